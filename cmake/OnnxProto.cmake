# Generates the protobuf-lite C++ for Debian's onnx.proto (python3-onnx) with the host
# protoc, for native and wasm builds alike. Target: mixq_onnx_proto.
find_program(MIXQ_PROTOC protoc REQUIRED)
set(MIXQ_ONNX_PROTO /usr/lib/python3/dist-packages/onnx/onnx.proto CACHE FILEPATH "onnx.proto from python3-onnx")
if(NOT EXISTS "${MIXQ_ONNX_PROTO}")
  message(FATAL_ERROR "onnx.proto not found at ${MIXQ_ONNX_PROTO}: apt-get install python3-onnx (tools/setup)")
endif()
set(_gen "${CMAKE_BINARY_DIR}/generated/onnx")
file(MAKE_DIRECTORY "${_gen}")
get_filename_component(_proto_dir "${MIXQ_ONNX_PROTO}" DIRECTORY)
add_custom_command(
  OUTPUT "${_gen}/onnx.pb.cc" "${_gen}/onnx.pb.h"
  COMMAND "${MIXQ_PROTOC}" --cpp_out=lite:${_gen} -I "${_proto_dir}" "${MIXQ_ONNX_PROTO}"
  DEPENDS "${MIXQ_ONNX_PROTO}"
  COMMENT "protoc onnx.proto (lite)")
add_library(mixq_onnx_proto STATIC "${_gen}/onnx.pb.cc")
target_include_directories(mixq_onnx_proto PUBLIC "${CMAKE_BINARY_DIR}/generated")
target_link_libraries(mixq_onnx_proto PUBLIC mixq_protobuf_lite)
set_target_properties(mixq_onnx_proto PROPERTIES POSITION_INDEPENDENT_CODE ON)
if(NOT EMSCRIPTEN)
  target_compile_options(mixq_onnx_proto PRIVATE -w)
endif()
