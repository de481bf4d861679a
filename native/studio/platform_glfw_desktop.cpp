// Desktop host of the studio: native GLFW + OpenGL 3.3 core + Dear ImGui backends.
//
// usage: mixq-studio [MODEL.onnx] [--input_shapes [[1,3,640,640]]] [--mlir TOP.mlir] [--qtable FILE]
//                    [--frames N --screenshot FILE.png]
// A model path argument or a file dropped on the window opens a model (".mlir" files give
// the layer names, images and npz/npy files are calibration data, ".txt"/".qtable" files are
// imported as qtables). The built-in demo (PP-OCRv4
// det, input x [1,3,?,?]) opens with --input_shapes [[1,3,640,640]] unless told otherwise. "Downloads" are written next
// to the current directory's files (atomic writes). --frames N renders N frames and exits (smoke tests): exit 1 if any
// glGetError() was raised, after writing --screenshot (glReadPixels -> PNG).
#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "glfw_frame.h"
#include "io/file_io.h"
#include "io/model_file.h"
#include "mixq/error.h"
#include "mixq/log.h"
#include "studio_app.h"
#include "studio_fonts.h"

#ifndef MIXQ_DEMO_MODEL
#define MIXQ_DEMO_MODEL ""
#endif

namespace {

mixq::studio::StudioApp* g_app = nullptr;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Images and arrays go to the Calibration tab (the extensions `mixq calibrate --dataset` takes).
bool is_calibration_file(std::string path) {
  for (char& c : path) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (const char* ext : {".jpg", ".jpeg", ".png", ".bmp", ".jfif", ".npz", ".npy"})
    if (ends_with(path, ext)) return true;
  return false;
}

void open_path(const std::string& path, const std::string& input_shapes = "") {
  try {
    auto bytes = mixq::native::read_file(path);
    if (ends_with(path, ".onnx"))
      g_app->load_model(bytes, path, input_shapes);
    else if (ends_with(path, ".mlir"))
      g_app->load_mlir(std::string(bytes.begin(), bytes.end()), path);
    else if (is_calibration_file(path))
      g_app->add_calibration_data(path, std::move(bytes));
    else
      g_app->import_qtable(std::string(bytes.begin(), bytes.end()), path);
  } catch (const mixq::Error& e) {
    g_app->report_error(e.what());
  }
}

bool write_screenshot(const std::string& path, int w, int h) {
  std::vector<unsigned char> pixels(size_t(w) * h * 4);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, w, h, GL_RGBA, GL_UNSIGNED_BYTE, pixels.data());
  std::vector<unsigned char> flipped(pixels.size());
  for (int y = 0; y < h; ++y)
    std::memcpy(&flipped[size_t(y) * w * 4], &pixels[size_t(h - 1 - y) * w * 4], size_t(w) * 4);
  for (size_t i = 3; i < flipped.size(); i += 4) flipped[i] = 255;
  return stbi_write_png(path.c_str(), w, h, 4, flipped.data(), w * 4) != 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, qtable_path, mlir_path, input_shapes, screenshot;
  int frames = -1, width = 1600, height = 1000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "mixq-studio: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--frames")
      frames = std::atoi(next().c_str());
    else if (a == "--screenshot")
      screenshot = next();
    else if (a == "--qtable")
      qtable_path = next();
    else if (a == "--mlir")
      mlir_path = next();
    else if (a == "--input_shapes")
      input_shapes = next();
    else if (a == "--size")
      std::sscanf(next().c_str(), "%dx%d", &width, &height);
    else if (a == "-h" || a == "--help") {
      std::printf(
          "usage: mixq-studio [MODEL.onnx] [--input_shapes [[1,3,640,640]]] [--mlir TOP.mlir] [--qtable FILE]\n"
          "                   [--size WxH] [--frames N --screenshot FILE.png]\n");
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "mixq-studio: unknown option %s\n", a.c_str());
      return 2;
    } else
      model_path = a;
  }
  if (!glfwInit()) {
    std::fprintf(stderr, "mixq-studio: cannot initialise GLFW (no display?)\n");
    return 2;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  glfwWindowHint(GLFW_OPENGL_FORWARD_COMPAT, GL_TRUE);
  GLFWwindow* window = glfwCreateWindow(width, height, "mixq studio", nullptr, nullptr);
  if (!window) {
    std::fprintf(stderr, "mixq-studio: cannot create an OpenGL 3.3 window\n");
    return 2;
  }
  glfwMakeContextCurrent(window);
  glfwSwapInterval(frames > 0 ? 0 : 1);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  mixq::studio::install_key_latch(window);
  ImGui_ImplOpenGL3_Init("#version 330 core");
  float sx = 1, sy = 1;
  glfwGetWindowContentScale(window, &sx, &sy);

  mixq::studio::PlatformServices services;
  services.save_file = [](const std::string& name, const std::string&, const std::string& data) {
    try {
      mixq::native::write_file_atomic(name, data);
      mixq::log_info("saved " + name);
    } catch (const mixq::Error& e) {
      g_app->report_error(e.what());
    }
  };
  services.read_file = [](const std::string& path) { return mixq::native::read_file(path); };
  services.copy_text = [window](const std::string& text) { glfwSetClipboardString(window, text.c_str()); };
  services.now = mixq::native::generated_time_now;
  services.page_url = [] { return std::string("mixq-studio:"); };
  mixq::studio::StudioApp app(services);
  g_app = &app;
  app.setup(mixq::studio::fonts::sans_ttf(), mixq::studio::fonts::bold_ttf(), mixq::studio::fonts::mono_ttf(),
            std::max(1.0f, sx));
  glfwSetDropCallback(window, [](GLFWwindow*, int count, const char** paths) {
    for (int i = 0; i < count; ++i) open_path(paths[i]);
  });
  if (model_path.empty() && std::strlen(MIXQ_DEMO_MODEL) > 0) {
    FILE* probe = std::fopen(MIXQ_DEMO_MODEL, "rb");
    if (probe) {
      std::fclose(probe);
      model_path = MIXQ_DEMO_MODEL;
      if (input_shapes.empty()) input_shapes = "[[1,3,640,640]]";
    }
  }
  if (!model_path.empty()) open_path(model_path, input_shapes);
  if (!mlir_path.empty()) open_path(mlir_path);
  if (!qtable_path.empty()) open_path(qtable_path);

  int gl_errors = 0;
  for (int frame = 0; !glfwWindowShouldClose(window) && (frames < 0 || frame < frames); ++frame) {
    mixq::studio::begin_frame();
    app.frame();
    mixq::studio::end_frame(window);
    int fw = 0, fh = 0;
    glfwGetFramebufferSize(window, &fw, &fh);
    for (GLenum err; (err = glGetError()) != GL_NO_ERROR;) {
      std::fprintf(stderr, "mixq-studio: GL error 0x%04x in frame %d\n", err, frame);
      ++gl_errors;
    }
    if (frames > 0 && frame == frames - 1 && !screenshot.empty()) {
      if (!write_screenshot(screenshot, fw, fh)) {
        std::fprintf(stderr, "mixq-studio: cannot write %s\n", screenshot.c_str());
        return 1;
      }
      std::printf("screenshot %s (%dx%d)\n", screenshot.c_str(), fw, fh);
    }
    glfwSwapBuffers(window);
  }
  if (frames > 0) std::printf("frames %d, ui frame ms %s\n", frames, app.stats_json().c_str());
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  return gl_errors ? 1 : 0;
}
