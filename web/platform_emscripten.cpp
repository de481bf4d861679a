// Web host of the studio: Emscripten's built-in GLFW + WebGL2 (GLSL ES 3.0) + Dear ImGui.
// The canvas fills the window at device-pixel resolution (HiDPI: fonts and sizes are
// scaled by devicePixelRatio, ImGui works in canvas pixels). JS glue (web/mixq.js) does
// file picking, drag & drop, Blob downloads, the clipboard and exposes window.mixq
// through the Embind functions in bindings.cpp. The demo model is preloaded at
// /assets/demo.onnx (see web/CMakeLists.txt) and opens at start.
#include <GLFW/glfw3.h>
#include <emscripten.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "glfw_frame.h"
#include "mixq/error.h"
#include "studio_app.h"
#include "studio_fonts.h"
#include "web_app.h"

// clang-format off
EM_JS(void, js_save_file, (const char* name, const char* mime, const char* data, size_t size), {
  mixqGlue.saveFile(UTF8ToString(name), UTF8ToString(mime), HEAPU8.slice(data, data + size));
});
EM_JS(void, js_pick_file, (const char* kind), { mixqGlue.pickFile(UTF8ToString(kind)); });
EM_JS(void, js_copy_text, (const char* text), { mixqGlue.copyText(UTF8ToString(text)); });
EM_JS(char*, js_page_url, (), {
  var s = location.href; var n = lengthBytesUTF8(s) + 1; var p = _malloc(n); stringToUTF8(s, p, n); return p;
});
EM_JS(char*, js_now, (), {
  var d = new Date(); var z = function(v, n) { return String(v).padStart(n || 2, '0'); };
  var s = d.getFullYear() + '-' + z(d.getMonth() + 1) + '-' + z(d.getDate()) + ' ' + z(d.getHours()) + ':' +
          z(d.getMinutes()) + ':' + z(d.getSeconds()) + '.' + z(d.getMilliseconds(), 3) + '000';
  var n = lengthBytesUTF8(s) + 1; var p = _malloc(n); stringToUTF8(s, p, n); return p;
});
EM_JS(int, js_canvas_pixel_width, (), {
  var c = Module.canvas; return Math.max(1, Math.round(c.clientWidth * (window.devicePixelRatio || 1)));
});
EM_JS(int, js_canvas_pixel_height, (), {
  var c = Module.canvas; return Math.max(1, Math.round(c.clientHeight * (window.devicePixelRatio || 1)));
});
EM_JS(double, js_device_pixel_ratio, (), { return window.devicePixelRatio || 1; });
EM_JS(void, js_first_frame, (), { mixqGlue.firstFrame(); });
// clang-format on

namespace {

GLFWwindow* g_window = nullptr;
mixq::studio::StudioApp* g_app = nullptr;
std::string g_clipboard;
int g_frame = 0;

std::string take_js_string(char* p) {
  std::string s(p ? p : "");
  free(p);
  return s;
}

void frame() {
  const int w = js_canvas_pixel_width(), h = js_canvas_pixel_height();
  int cw = 0, ch = 0;
  glfwGetWindowSize(g_window, &cw, &ch);
  if (cw != w || ch != h) glfwSetWindowSize(g_window, w, h);
  mixq::studio::begin_frame();
  g_app->frame();
  mixq::studio::end_frame(g_window);
  if (++g_frame == 2) js_first_frame();
}

}  // namespace

namespace mixq::studio {
StudioApp& web_app() {
  return *g_app;
}
void web_set_clipboard(const std::string& text) {
  g_clipboard = text;
}
}  // namespace mixq::studio

int main() {
  if (!glfwInit()) {
    std::fprintf(stderr, "mixq studio: cannot initialise GLFW\n");
    return 1;
  }
  glfwWindowHint(GLFW_CLIENT_API, GLFW_OPENGL_ES_API);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  g_window = glfwCreateWindow(js_canvas_pixel_width(), js_canvas_pixel_height(), "mixq studio", nullptr, nullptr);
  if (!g_window) {
    std::fprintf(stderr, "mixq studio: cannot create a WebGL2 context\n");
    return 1;
  }
  glfwMakeContextCurrent(g_window);
  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui_ImplGlfw_InitForOpenGL(g_window, true);
  mixq::studio::install_key_latch(g_window);
  ImGui_ImplOpenGL3_Init("#version 300 es");
  ImGuiIO& io = ImGui::GetIO();
  // Emscripten's GLFW has no clipboard: the page's paste event feeds this string.
  io.GetClipboardTextFn = [](void*) -> const char* { return g_clipboard.c_str(); };
  io.SetClipboardTextFn = [](void*, const char* text) {
    g_clipboard = text;
    js_copy_text(text);
  };

  mixq::studio::PlatformServices services;
  services.save_file = [](const std::string& name, const std::string& mime, const std::string& data) {
    js_save_file(name.c_str(), mime.c_str(), data.data(), data.size());
  };
  services.pick_file = [](const std::string& kind) { js_pick_file(kind.c_str()); };
  services.copy_text = [](const std::string& text) { js_copy_text(text.c_str()); };
  services.now = [] { return take_js_string(js_now()); };
  services.page_url = [] { return take_js_string(js_page_url()); };
  static mixq::studio::StudioApp app(services);
  g_app = &app;
  app.setup(mixq::studio::fonts::sans_ttf(), mixq::studio::fonts::bold_ttf(), mixq::studio::fonts::mono_ttf(),
            float(js_device_pixel_ratio()));

  std::ifstream demo("/assets/demo.onnx", std::ios::binary);
  if (demo) {
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(demo)), std::istreambuf_iterator<char>());
    try {
      // The demo's input is x [1,3,?,?]: open it as model_transform.py --input_shapes [[1,3,640,640]] would.
      app.load_model(bytes, "ch_PP-OCRv4_det_infer.onnx", "[[1,3,640,640]]");
    } catch (const mixq::Error&) {  // shown in the UI already
    }
  }
  emscripten_set_main_loop(frame, 0, true);
  return 0;
}
