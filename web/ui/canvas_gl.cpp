// Graph canvas background shader (see canvas_gl.h). GL headers come from the host's
// studio_gl.h (web/gl or native/studio/gl, chosen by CMake).
#include "canvas_gl.h"

#include <string>

#include "mixq/log.h"
#include "studio_gl.h"

namespace mixq::studio {
namespace shaders {
extern const unsigned char es3_vert[], es3_frag[], gl33_vert[], gl33_frag[];
extern const size_t es3_vert_size, es3_frag_size, gl33_vert_size, gl33_frag_size;
}  // namespace shaders

namespace {

struct CanvasState {
  GLuint program = 0, vao = 0, vbo = 0;
  GLint u_rect = -1, u_origin = -1, u_step = -1, u_dot = -1;
  // Parameters of the queued draw (one canvas per frame).
  ImVec2 p0, p1, origin;
  float step = 0, dot = 0;
} g;

GLuint compile(GLenum type, const unsigned char* src, size_t size) {
  GLuint s = glCreateShader(type);
  const char* text = reinterpret_cast<const char*>(src);
  const GLint len = GLint(size);
  glShaderSource(s, 1, &text, &len);
  glCompileShader(s);
  GLint ok = 0;
  glGetShaderiv(s, GL_COMPILE_STATUS, &ok);
  if (!ok) {
    char buf[1024];
    glGetShaderInfoLog(s, sizeof buf, nullptr, buf);
    log_warning(std::string("canvas shader: ") + buf);
    glDeleteShader(s);
    return 0;
  }
  return s;
}

void draw_callback(const ImDrawList*, const ImDrawCmd*) {
  const ImDrawData* dd = ImGui::GetDrawData();
  const ImVec2 sc = dd->FramebufferScale;
  const float fb_h = dd->DisplaySize.y * sc.y;
  auto fx = [&](float x) { return (x - dd->DisplayPos.x) * sc.x; };
  auto fy = [&](float y) { return fb_h - (y - dd->DisplayPos.y) * sc.y; };
  const float x0 = fx(g.p0.x), x1 = fx(g.p1.x), y0 = fy(g.p1.y), y1 = fy(g.p0.y);
  glEnable(GL_SCISSOR_TEST);
  glScissor(GLint(x0), GLint(y0), GLsizei(x1 - x0), GLsizei(y1 - y0));
  glDisable(GL_BLEND);
  glUseProgram(g.program);
  glUniform4f(g.u_rect, x0, y0, x1, y1);
  glUniform2f(g.u_origin, fx(g.origin.x), fy(g.origin.y));
  glUniform1f(g.u_step, g.step * sc.x);
  glUniform1f(g.u_dot, g.dot * sc.x);
  glBindVertexArray(g.vao);
  glDrawArrays(GL_TRIANGLE_STRIP, 0, 4);
}

}  // namespace

bool canvas_gl_init() {
  const bool es = kGlslEs;
  GLuint vs = es ? compile(GL_VERTEX_SHADER, shaders::es3_vert, shaders::es3_vert_size)
                 : compile(GL_VERTEX_SHADER, shaders::gl33_vert, shaders::gl33_vert_size);
  GLuint fs = es ? compile(GL_FRAGMENT_SHADER, shaders::es3_frag, shaders::es3_frag_size)
                 : compile(GL_FRAGMENT_SHADER, shaders::gl33_frag, shaders::gl33_frag_size);
  if (!vs || !fs) return false;
  GLuint p = glCreateProgram();
  glAttachShader(p, vs);
  glAttachShader(p, fs);
  glLinkProgram(p);
  glDeleteShader(vs);
  glDeleteShader(fs);
  GLint ok = 0;
  glGetProgramiv(p, GL_LINK_STATUS, &ok);
  if (!ok) {
    log_warning("canvas shader: link failed, drawing a plain background");
    glDeleteProgram(p);
    return false;
  }
  g.program = p;
  g.u_rect = glGetUniformLocation(p, "u_rect");
  g.u_origin = glGetUniformLocation(p, "u_origin");
  g.u_step = glGetUniformLocation(p, "u_step");
  g.u_dot = glGetUniformLocation(p, "u_dot");
  GLint last_vao = 0, last_buffer = 0;
  glGetIntegerv(GL_VERTEX_ARRAY_BINDING, &last_vao);
  glGetIntegerv(GL_ARRAY_BUFFER_BINDING, &last_buffer);
  const float quad[8] = {-1, -1, 1, -1, -1, 1, 1, 1};
  glGenVertexArrays(1, &g.vao);
  glGenBuffers(1, &g.vbo);
  glBindVertexArray(g.vao);
  glBindBuffer(GL_ARRAY_BUFFER, g.vbo);
  glBufferData(GL_ARRAY_BUFFER, sizeof quad, quad, GL_STATIC_DRAW);
  glEnableVertexAttribArray(0);
  glVertexAttribPointer(0, 2, GL_FLOAT, GL_FALSE, 0, nullptr);
  glBindVertexArray(GLuint(last_vao));
  glBindBuffer(GL_ARRAY_BUFFER, GLuint(last_buffer));
  return true;
}

bool canvas_gl_ready() {
  return g.program != 0;
}

void canvas_gl_draw(ImDrawList* dl, ImVec2 p0, ImVec2 p1, ImVec2 graph_origin, float step, float dot) {
  g.p0 = p0;
  g.p1 = p1;
  g.origin = graph_origin;
  g.step = step;
  g.dot = dot;
  dl->AddCallback(draw_callback, nullptr);
  dl->AddCallback(ImDrawCallback_ResetRenderState, nullptr);
}

}  // namespace mixq::studio
