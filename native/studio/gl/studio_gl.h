// OpenGL entry points for the desktop host: OpenGL 3.3 core prototypes exported by libGL.
#pragma once
#define GL_GLEXT_PROTOTYPES 1
#include <GL/gl.h>
#include <GL/glext.h>

namespace mixq::studio {
inline constexpr bool kGlslEs = false;  // shaders/*.gl33.*
}
