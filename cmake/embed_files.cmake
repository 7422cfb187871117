# Writes a C++ source holding the bytes of some files, so that a binary carries them
# and an installed package needs no data directory for them. Run in script mode:
#
#   cmake -DBASE_DIR=<dir> -DFILES="a.html;b.js" -DOUTPUT=<out.cpp> -DNAMESPACE=<ns>
#         -DFUNCTION=<name> -P embed_files.cmake
#
# The source defines `std::span<const EmbeddedFile> <NAMESPACE>::<FUNCTION>()` listing
# every file by its name relative to BASE_DIR, in the order given; EmbeddedFile is
# declared in runtime/src/embedded_file.hpp. Bytes are written as hex escapes in string
# literals, which the compiler reads far faster than a list of integers.
foreach(var BASE_DIR FILES OUTPUT NAMESPACE FUNCTION)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "embed_files.cmake: ${var} is not set")
  endif()
endforeach()

set(out "// Generated from ${BASE_DIR} by cmake/embed_files.cmake at build time: do not edit.\n")
string(APPEND out "#include \"embedded_file.hpp\"\n\nnamespace ${NAMESPACE} {\n\nnamespace {\n\n")
set(table "")
set(index 0)
foreach(name IN LISTS FILES)
  file(READ "${BASE_DIR}/${name}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  # 32 bytes per line, each byte as \xNN.
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" escaped "${hex}")
  string(REGEX REPLACE "(................................................................................................................................)"
         "\\1\"\n    \"" escaped "${escaped}")
  string(APPEND out "// ${name}\nconstexpr char kFile${index}[] =\n    \"${escaped}\";\n\n")
  string(APPEND table "    {\"${name}\", std::string_view(kFile${index}, ${size})},\n")
  math(EXPR index "${index} + 1")
endforeach()
string(APPEND out "constexpr EmbeddedFile kFiles[] = {\n${table}};\n\n}  // namespace\n\n")
string(APPEND out "std::span<const EmbeddedFile> ${FUNCTION}() { return kFiles; }\n\n}  // namespace ${NAMESPACE}\n")

# Rewritten only when it changes, so that an unchanged input does not recompile it.
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" previous)
  if(previous STREQUAL out)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${out}")
