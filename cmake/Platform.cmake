# Platform selection: third-party include paths and flags for native vs Emscripten.
# Under Emscripten, header-only Debian packages are exposed through a private folder of
# symlinks so /usr/include itself (glibc headers) is never on the wasm include path.
if(MIXQ_SANITIZE AND NOT EMSCRIPTEN)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

if(EMSCRIPTEN)
  # Error strategy: C++ exceptions are ON in wasm (compile AND link) so that bad user
  # input ends in the same mixq::Error message natively and in the browser. WebAssembly's
  # own exception handling (Chromium >= 95, node >= 17): with Emscripten's JS-based
  # exceptions every call that may throw from a frame with destructors went through a JS
  # invoke_* trampoline (~13% of a small model's inference).
  add_compile_options(-fwasm-exceptions -msimd128 -O3)
  add_link_options(-fwasm-exceptions -sALLOW_MEMORY_GROWTH=1)
  set(MIXQ_WASM_INCLUDE "${CMAKE_BINARY_DIR}/wasm_include")
  file(MAKE_DIRECTORY "${MIXQ_WASM_INCLUDE}")
  foreach(link Eigen:/usr/include/eigen3/Eigen unsupported:/usr/include/eigen3/unsupported
               catch2:/usr/include/catch2 nlohmann:/usr/include/nlohmann
               CLI:/usr/include/CLI stb:/usr/include/stb)
    string(REPLACE ":" ";" parts "${link}")
    list(GET parts 0 name)
    list(GET parts 1 target)
    if(NOT EXISTS "${MIXQ_WASM_INCLUDE}/${name}")
      file(CREATE_LINK "${target}" "${MIXQ_WASM_INCLUDE}/${name}" SYMBOLIC)
    endif()
  endforeach()
  set(MIXQ_EIGEN_INCLUDE "${MIXQ_WASM_INCLUDE}")
  set(MIXQ_THIRDPARTY_INCLUDE "${MIXQ_WASM_INCLUDE}")

  file(GLOB _pb_src LIST_DIRECTORIES true "${MIXQ_DEPS_DIR}/src/protobuf-*/src")
  set(_pb_lib "${MIXQ_DEPS_DIR}/wasm/protobuf-weh/libprotobuf-lite.a")
  if(NOT _pb_src OR NOT EXISTS "${_pb_lib}")
    message(FATAL_ERROR "protobuf-lite for wasm not found under ${MIXQ_DEPS_DIR}: run tools/setup")
  endif()
  list(GET _pb_src 0 _pb_src)
  add_library(mixq_protobuf_lite STATIC IMPORTED)
  set_target_properties(mixq_protobuf_lite PROPERTIES IMPORTED_LOCATION "${_pb_lib}"
    INTERFACE_INCLUDE_DIRECTORIES "${_pb_src}")

  # zlib: compiled here from Debian's zlib source package (never an Emscripten port)
  file(GLOB _z_src LIST_DIRECTORIES true "${MIXQ_DEPS_DIR}/src/zlib-*")
  if(NOT _z_src)
    message(FATAL_ERROR "zlib source not found under ${MIXQ_DEPS_DIR}/src: run tools/setup")
  endif()
  list(GET _z_src 0 _z_src)
  set(_z_inc "${CMAKE_BINARY_DIR}/zlib_include")
  configure_file("${_z_src}/zconf.h.in" "${_z_inc}/zconf.h" COPYONLY)
  configure_file("${_z_src}/zlib.h" "${_z_inc}/zlib.h" COPYONLY)
  set(_z_files adler32 compress crc32 deflate gzclose gzlib gzread gzwrite inflate infback
               inftrees inffast trees uncompr zutil)
  list(TRANSFORM _z_files PREPEND "${_z_src}/")
  list(TRANSFORM _z_files APPEND ".c")
  add_library(mixq_zlib STATIC ${_z_files})
  target_include_directories(mixq_zlib PUBLIC "${_z_inc}")
  target_compile_options(mixq_zlib PRIVATE -w -DHAVE_UNISTD_H)
else()
  find_package(Threads REQUIRED)
  find_package(Protobuf REQUIRED)
  find_package(ZLIB REQUIRED)
  add_library(mixq_protobuf_lite INTERFACE)
  target_link_libraries(mixq_protobuf_lite INTERFACE protobuf::libprotobuf-lite)
  add_library(mixq_zlib INTERFACE)
  target_link_libraries(mixq_zlib INTERFACE ZLIB::ZLIB)
  set(MIXQ_EIGEN_INCLUDE /usr/include/eigen3)
  set(MIXQ_THIRDPARTY_INCLUDE /usr/include)
  if(MIXQ_PORTABLE_FP)
    # -Wno-psabi: GCC notes that 64-byte vector arguments change ABI without AVX-512
    # (internal functions only)
    add_compile_options(-O3 -march=x86-64-v2 -ffp-contract=off -Wno-psabi)
  elseif(CMAKE_BUILD_TYPE STREQUAL "Release")
    # MIXQ_NATIVE_ARCH=haswell builds the AVX2 + FMA code paths (8-lane tiles) on an
    # AVX-512 machine; tools/test runs the suite that way too.
    set(MIXQ_NATIVE_ARCH "native" CACHE STRING "-march of native Release builds")
    add_compile_options(-O3 -march=${MIXQ_NATIVE_ARCH})
  endif()
endif()
