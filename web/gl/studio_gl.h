// OpenGL entry points for the web host: WebGL2 through Emscripten's GLES 3.0 headers.
#pragma once
#include <GLES3/gl3.h>

namespace mixq::studio {
inline constexpr bool kGlslEs = true;  // shaders/*.es3.*
}
