#include "glfw_frame.h"

#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>

#include <vector>

#include "studio_gl.h"

namespace mixq::studio {
namespace {

struct KeyLatch {
  GLFWwindow* window = nullptr;
  std::vector<int> pressed_since_frame;  // keys that went down after the last NewFrame
  struct Release {
    int key, scancode, mods;
  };
  std::vector<Release> held_releases;  // their releases, applied after the next NewFrame
};
KeyLatch g_latch;

bool contains(const std::vector<int>& keys, int key) {
  for (int k : keys)
    if (k == key) return true;
  return false;
}

void latched_key_callback(GLFWwindow* window, int key, int scancode, int action, int mods) {
  if (action == GLFW_PRESS) g_latch.pressed_since_frame.push_back(key);
  if (action == GLFW_RELEASE && contains(g_latch.pressed_since_frame, key)) {
    g_latch.held_releases.push_back({key, scancode, mods});
    return;
  }
  ImGui_ImplGlfw_KeyCallback(window, key, scancode, action, mods);
}

}  // namespace

void install_key_latch(GLFWwindow* window) {
  g_latch.window = window;
  glfwSetKeyCallback(window, latched_key_callback);
}

void begin_frame() {
  glfwPollEvents();
  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  ImGui::NewFrame();
}

void end_frame(GLFWwindow* window) {
  // This frame has seen every key pressed so far: the held releases land now, after the
  // UI read io.KeyCtrl & co. (the callback recomputes them), and count from the next frame.
  g_latch.pressed_since_frame.clear();
  std::vector<KeyLatch::Release> releases;
  releases.swap(g_latch.held_releases);
  for (const auto& r : releases) ImGui_ImplGlfw_KeyCallback(g_latch.window, r.key, r.scancode, GLFW_RELEASE, r.mods);
  ImGui::Render();
  int fw = 0, fh = 0;
  glfwGetFramebufferSize(window, &fw, &fh);
  glViewport(0, 0, fw, fh);
  glClearColor(0.08f, 0.085f, 0.095f, 1);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
}

}  // namespace mixq::studio
