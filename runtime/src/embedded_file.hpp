// Internal: a file whose bytes were compiled into the binary (cmake/embed_files.cmake).
#pragma once

#include <span>
#include <string_view>

namespace waybill::runtime {

struct EmbeddedFile {
  std::string_view name;   // path relative to the embedded directory, e.g. "console.js"
  std::string_view bytes;
};

/// The operations console's static files (runtime/console/), generated at build time.
std::span<const EmbeddedFile> console_files();
/// docs/openapi.json, the one file of the API's contract, generated at build time.
std::span<const EmbeddedFile> openapi_files();

}  // namespace waybill::runtime
