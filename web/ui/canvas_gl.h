// The graph canvas background drawn by our own shader (shaders/canvas.*): a gradient and
// a dot grid that follows pan/zoom, inserted into ImGui's draw list as a callback. When
// the shader cannot be built the caller draws a plain ImDrawList background instead.
#pragma once
#include <imgui.h>

namespace mixq::studio {

// Compiles the shader for the current GL context; false (and a log line) on failure.
bool canvas_gl_init();
bool canvas_gl_ready();
// Queues the background for rect [p0, p1] (screen coordinates); graph_origin is where graph
// point (0,0) is on screen, step and dot radius in screen pixels.
void canvas_gl_draw(ImDrawList* dl, ImVec2 p0, ImVec2 p1, ImVec2 graph_origin, float step, float dot);

}  // namespace mixq::studio
