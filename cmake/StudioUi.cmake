# The studio's shared UI (web/ui/*.cpp) + Dear ImGui 1.86 from Debian's imgui source
# package (core + the GLFW and OpenGL3 backends) + embedded DejaVu fonts. Used by the web
# build (web/CMakeLists.txt) and the desktop host (native/studio/CMakeLists.txt).
file(GLOB _imgui_dir LIST_DIRECTORIES true "${MIXQ_DEPS_DIR}/src/imgui-1.86*")
list(FILTER _imgui_dir EXCLUDE REGEX "\\.(dsc|tar\\.xz)$")
if(NOT _imgui_dir)
  message(FATAL_ERROR "imgui source not found under ${MIXQ_DEPS_DIR}/src: run tools/setup")
endif()
list(GET _imgui_dir 0 MIXQ_IMGUI_DIR)

set(MIXQ_FONT_DIR "/usr/share/fonts/truetype/dejavu" CACHE PATH "fonts-dejavu-core (Debian)")
find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(_fonts_cpp "${CMAKE_BINARY_DIR}/generated/studio_fonts.cpp")
add_custom_command(OUTPUT "${_fonts_cpp}"
  COMMAND ${CMAKE_COMMAND} -E make_directory "${CMAKE_BINARY_DIR}/generated"
  COMMAND Python3::Interpreter "${CMAKE_SOURCE_DIR}/cmake/embed_files.py" "${_fonts_cpp}" mixq::studio::fonts
          "sans=${MIXQ_FONT_DIR}/DejaVuSans.ttf" "sans_bold=${MIXQ_FONT_DIR}/DejaVuSans-Bold.ttf"
          "mono=${MIXQ_FONT_DIR}/DejaVuSansMono.ttf"
  DEPENDS "${CMAKE_SOURCE_DIR}/cmake/embed_files.py" VERBATIM)

# shaders/: the GLSL of the studio's own drawing (graph canvas), ES 3.0 and GL 3.3 variants.
set(_shaders_cpp "${CMAKE_BINARY_DIR}/generated/studio_shaders.cpp")
set(_sh "${CMAKE_SOURCE_DIR}/shaders")
add_custom_command(OUTPUT "${_shaders_cpp}"
  COMMAND ${CMAKE_COMMAND} -E make_directory "${CMAKE_BINARY_DIR}/generated"
  COMMAND Python3::Interpreter "${CMAKE_SOURCE_DIR}/cmake/embed_files.py" "${_shaders_cpp}" mixq::studio::shaders
          "es3_vert=${_sh}/canvas.es3.vert" "es3_frag=${_sh}/canvas.es3.frag"
          "gl33_vert=${_sh}/canvas.gl33.vert" "gl33_frag=${_sh}/canvas.gl33.frag"
  DEPENDS "${CMAKE_SOURCE_DIR}/cmake/embed_files.py" "${_sh}/canvas.es3.vert" "${_sh}/canvas.es3.frag"
          "${_sh}/canvas.gl33.vert" "${_sh}/canvas.gl33.frag" VERBATIM)

file(GLOB MIXQ_STUDIO_UI_SOURCES CONFIGURE_DEPENDS "${CMAKE_SOURCE_DIR}/web/ui/*.cpp")
add_library(mixq_studio_ui STATIC ${MIXQ_STUDIO_UI_SOURCES} "${_fonts_cpp}" "${_shaders_cpp}"
  "${MIXQ_IMGUI_DIR}/imgui.cpp" "${MIXQ_IMGUI_DIR}/imgui_draw.cpp" "${MIXQ_IMGUI_DIR}/imgui_tables.cpp"
  "${MIXQ_IMGUI_DIR}/imgui_widgets.cpp" "${MIXQ_IMGUI_DIR}/backends/imgui_impl_glfw.cpp"
  "${MIXQ_IMGUI_DIR}/backends/imgui_impl_opengl3.cpp")
target_include_directories(mixq_studio_ui PUBLIC "${CMAKE_SOURCE_DIR}/web/ui" "${MIXQ_IMGUI_DIR}" "${MIXQ_IMGUI_DIR}/backends")
target_link_libraries(mixq_studio_ui PUBLIC mixq_core)
if(EMSCRIPTEN)
  target_compile_definitions(mixq_studio_ui PUBLIC IMGUI_IMPL_OPENGL_ES3)
  target_include_directories(mixq_studio_ui PRIVATE "${CMAKE_SOURCE_DIR}/web/gl")  # studio_gl.h: GLES 3.0
  target_link_options(mixq_studio_ui PUBLIC -sUSE_GLFW=3)
else()
  find_package(glfw3 REQUIRED)
  find_package(OpenGL REQUIRED)
  target_link_libraries(mixq_studio_ui PUBLIC glfw OpenGL::GL ${CMAKE_DL_LIBS})
  target_include_directories(mixq_studio_ui PRIVATE "${CMAKE_SOURCE_DIR}/native/studio/gl")  # studio_gl.h: GL 3.3
endif()
