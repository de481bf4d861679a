// The studio's per-frame GLFW + ImGui plumbing, shared by the web and desktop hosts.
//
// ImGui 1.86 reads keys as a level (io.KeysDown) sampled once per frame, so a key pressed
// and released between two frames -- a fast typist, a script, or any key on a slow frame
// -- is never seen. install_key_latch() holds such a release back until one frame has
// seen the key down. Call it after ImGui_ImplGlfw_InitForOpenGL(window, true).
#pragma once

struct GLFWwindow;

namespace mixq::studio {

void install_key_latch(GLFWwindow* window);

// Polls events and starts the ImGui frame (both backends, then ImGui::NewFrame).
void begin_frame();
// Lands the latched key releases, then renders ImGui's draw data over a cleared
// framebuffer of `window`.
void end_frame(GLFWwindow* window);

}  // namespace mixq::studio
