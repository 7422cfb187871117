# Generates <build>/generated/include/waybill/version.hpp (target waybill_version):
# the project version, the git commit of the sources, the build type and the compiler.
#
# The commit is read at configure time only: re-running CMake refreshes it, a plain
# rebuild does not, so an incremental build never recompiles just because of a commit.
find_package(Git QUIET)
set(WAYBILL_GIT_COMMIT "unknown")
if(GIT_FOUND AND EXISTS "${PROJECT_SOURCE_DIR}/.git")
  execute_process(
    COMMAND "${GIT_EXECUTABLE}" describe --always --dirty --abbrev=12
    WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
    OUTPUT_VARIABLE _waybill_describe
    OUTPUT_STRIP_TRAILING_WHITESPACE
    ERROR_QUIET
    RESULT_VARIABLE _waybill_git_result)
  if(_waybill_git_result EQUAL 0 AND _waybill_describe)
    set(WAYBILL_GIT_COMMIT "${_waybill_describe}")
  endif()
endif()

set(WAYBILL_BUILD_TYPE_TEXT "${CMAKE_BUILD_TYPE}")
if(WAYBILL_SANITIZE)
  string(APPEND WAYBILL_BUILD_TYPE_TEXT " sanitize=${WAYBILL_SANITIZE}")
endif()

configure_file("${CMAKE_CURRENT_LIST_DIR}/version.hpp.in"
               "${PROJECT_BINARY_DIR}/generated/include/waybill/version.hpp" @ONLY)
add_library(waybill_version INTERFACE)
target_include_directories(waybill_version INTERFACE "${PROJECT_BINARY_DIR}/generated/include")
