#version 330 core
// Graph canvas background: a soft vertical gradient and an anti-aliased dot grid that
// pans and zooms with the graph. Coordinates are framebuffer pixels (origin bottom-left).
//   u_rect   canvas rectangle (x0, y0, x1, y1)
//   u_origin framebuffer position of the graph point (0, 0)
//   u_step   grid spacing in pixels (no dots below 6 px)
//   u_dot    dot radius in pixels
uniform vec4 u_rect;
uniform vec2 u_origin;
uniform float u_step;
uniform float u_dot;
out vec4 frag_color;
void main() {
  vec2 p = gl_FragCoord.xy;
  float t = clamp((p.y - u_rect.y) / max(1.0, u_rect.w - u_rect.y), 0.0, 1.0);
  vec3 bg = mix(vec3(0.070, 0.075, 0.086), vec3(0.098, 0.105, 0.120), t);
  vec2 g = mod(p - u_origin, u_step);
  vec2 d = min(g, vec2(u_step) - g);
  float dots = u_step > 6.0 ? 1.0 - smoothstep(u_dot - 0.6, u_dot + 0.6, length(d)) : 0.0;
  frag_color = vec4(mix(bg, vec3(0.20, 0.215, 0.245), dots), 1.0);
}
