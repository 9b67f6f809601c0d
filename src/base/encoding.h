// Byte encodings used across modules: hex, base64 (standard and URL alphabets),
// percent-encoding and JSON string escaping. Pure functions; parent side.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace jitsec {

std::string HexEncode(std::string_view bytes, bool upper = false);
std::optional<std::string> HexDecode(std::string_view hex);

enum class Base64Alphabet : uint8_t { kStandard, kUrl };
std::string Base64Encode(std::string_view bytes, Base64Alphabet alphabet = Base64Alphabet::kStandard,
                         bool pad = true);
// Accepts either alphabet, with or without padding; nullopt on invalid input.
std::optional<std::string> Base64Decode(std::string_view text);

// RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~".
bool IsUriUnreserved(unsigned char c);
// RFC 3986 percent-encoding of everything but unreserved characters.
std::string PercentEncode(std::string_view bytes, bool upper = true);
// Percent-encoding that keeps the bytes `keep` accepts as they are (and, with plus_for_space,
// writes a space as '+', as HTML forms do); the variants the masker registers.
std::string PercentEncodeIf(std::string_view bytes, bool (*keep)(unsigned char), bool upper,
                            bool plus_for_space = false);
// JSON string escaping (without the surrounding quotes), as a strict encoder writes it:
// \" \\ \b \f \n \r \t, other control bytes as \u00XX; everything else as is.
std::string JsonEscape(std::string_view bytes);

}  // namespace jitsec
