#version 300 es
// Graph canvas background: one quad in clip space (GLSL ES 3.0, WebGL2).
precision highp float;
layout(location = 0) in vec2 a_pos;
void main() { gl_Position = vec4(a_pos, 0.0, 1.0); }
