// Pattern expansion: a secret value and the encodings in which programs commonly print it.
#include "mask/patterns.h"

#include <string.h>  // explicit_bzero

#include <algorithm>
#include <array>
#include <cstdint>

#include "base/encoding.h"
#include "mask/redactor.h"

namespace jitsec::mask::internal {
namespace {

constexpr char kHexLower[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";

bool IsReserved(unsigned char c) {
  static constexpr std::string_view kReserved = ":/?#[]@!$&'()*+,;=";
  return kReserved.find(static_cast<char>(c)) != std::string_view::npos;
}
// JavaScript encodeURIComponent keeps these besides the unreserved set.
bool KeepComponent(unsigned char c) {
  return IsUriUnreserved(c) || c == '!' || c == '\'' || c == '(' || c == ')' || c == '*';
}
// JavaScript encodeURI also keeps the reserved characters.
bool KeepUri(unsigned char c) { return KeepComponent(c) || (IsReserved(c) && c != '[' && c != ']'); }
// "Only reserved characters encoded": reserved, '%' (to stay decodable), space and controls.
bool KeepAllButReserved(unsigned char c) {
  return !IsReserved(c) && c != '%' && c > 0x20 && c != 0x7f;
}

void AppendU(std::string& out, uint32_t unit, bool upper) {
  const char* digits = upper ? kHexUpper : kHexLower;
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out.push_back(digits[(unit >> shift) & 15]);
}

// Decodes one UTF-8 sequence at v[i]; returns its length (0 when invalid).
size_t DecodeUtf8(std::string_view v, size_t i, uint32_t& cp) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(v[k]); };
  unsigned char c = b(i);
  size_t len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
  if (c >= 0xf5 || len == 0 || i + len > v.size()) return 0;
  cp = c & (0x7f >> len);
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return len;
}

enum class JsonStyle : uint8_t { kUpperHex, kAsciiOnly, kGoHtmlSafe };

// JSON escaping variants other than base's strict JsonEscape. Returns "" when the style does
// not apply (invalid UTF-8 for kAsciiOnly).
std::string JsonVariant(std::string_view v, JsonStyle style) {
  std::string out;
  for (size_t i = 0; i < v.size();) {
    unsigned char c = static_cast<unsigned char>(v[i]);
    switch (c) {
      case '"': out += "\\\""; ++i; continue;
      case '\\': out += "\\\\"; ++i; continue;
      case '\b': out += "\\b"; ++i; continue;
      case '\f': out += "\\f"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      default: break;
    }
    if (c < 0x20) {
      AppendU(out, c, style == JsonStyle::kUpperHex);
      ++i;
    } else if (style == JsonStyle::kGoHtmlSafe && (c == '<' || c == '>' || c == '&')) {
      AppendU(out, c, false);
      ++i;
    } else if (c < 0x80 || style == JsonStyle::kUpperHex) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else {
      uint32_t cp = 0;
      size_t len = DecodeUtf8(v, i, cp);
      if (len == 0) {
        if (style == JsonStyle::kAsciiOnly) return {};
        out.push_back(static_cast<char>(c));  // Go writes \ufffd; keep the byte, harmless
        ++i;
        continue;
      }
      if (style == JsonStyle::kGoHtmlSafe) {
        if (cp == 0x2028 || cp == 0x2029) {
          AppendU(out, cp, false);
        } else {
          out.append(v.substr(i, len));
        }
      } else if (cp >= 0x10000) {
        uint32_t u = cp - 0x10000;
        AppendU(out, 0xd800 + (u >> 10), false);
        AppendU(out, 0xdc00 + (u & 0x3ff), false);
      } else {
        AppendU(out, cp, false);
      }
      i += len;
    }
  }
  return out;
}

std::string HtmlEscape(std::string_view v, bool apos_entity) {
  std::string out;
  for (char c : v) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += apos_entity ? "&apos;" : "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string ReplaceSlash(std::string_view escaped) {
  std::string out;
  for (char c : escaped) {
    if (c == '/') {
      out += "\\/";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// The secret inside a longer base64 stream, at byte offset 0, 1 or 2 of a 3-byte group: only
// the characters whose 6 bits all come from the secret are fixed. Plus the forms where the
// secret ends the stream (its last partial character is then fixed too, with or without '=').
void AddBase64(std::string_view v, std::vector<std::string>& out) {
  for (Base64Alphabet alphabet : {Base64Alphabet::kStandard, Base64Alphabet::kUrl}) {
    for (size_t offset = 0; offset < 3; ++offset) {
      std::string shifted(offset, '\0');
      shifted.append(v);
      std::string bare = Base64Encode(shifted, alphabet, /*pad=*/false);
      std::string padded = Base64Encode(shifted, alphabet, /*pad=*/true);
      size_t first = (8 * offset + 5) / 6;           // ceil(8*offset / 6)
      size_t last = 8 * (offset + v.size()) / 6;     // floor: end of fully determined chars
      out.push_back(bare.substr(first, last - first));
      out.push_back(bare.substr(first));
      out.push_back(padded.substr(first));
      WipeString(shifted);
      WipeString(bare);
      WipeString(padded);
    }
  }
}

void AddLineForms(std::string_view line, const Options& options, std::vector<std::string>& out) {
  if (line.size() < options.min_length) return;
  out.emplace_back(line);
  if (!options.encodings) return;
  out.push_back(JsonEscape(line));
  out.push_back(PercentEncode(line, true));
}

}  // namespace

void WipeString(std::string& s) {
  s.resize(s.capacity());
  explicit_bzero(s.data(), s.size());
  s.clear();
}

void ExpandInto(std::string_view value, const Options& options, std::vector<std::string>& out) {
  size_t min_length = std::max<size_t>(options.min_length, 1);
  if (value.size() < min_length) return;
  out.emplace_back(value);
  if (options.encodings) {
    AddBase64(value, out);
    out.push_back(PercentEncode(value, true));
    out.push_back(PercentEncode(value, false));
    out.push_back(PercentEncodeIf(value, KeepComponent, true, false));
    out.push_back(PercentEncodeIf(value, KeepUri, true, false));
    out.push_back(PercentEncodeIf(value, IsUriUnreserved, true, true));
    out.push_back(PercentEncodeIf(value, KeepAllButReserved, true, false));
    out.push_back(PercentEncodeIf(value, KeepAllButReserved, false, false));
    std::string json = JsonEscape(value);
    out.push_back(ReplaceSlash(json));
    out.push_back(std::move(json));
    out.push_back(JsonVariant(value, JsonStyle::kUpperHex));
    out.push_back(JsonVariant(value, JsonStyle::kAsciiOnly));
    out.push_back(JsonVariant(value, JsonStyle::kGoHtmlSafe));
    out.push_back(HtmlEscape(value, false));
    out.push_back(HtmlEscape(value, true));
    out.push_back(HexEncode(value, false));
    out.push_back(HexEncode(value, true));
  }
  if (value.find('\n') != std::string_view::npos) {
    Options line_options = options;
    line_options.min_length = min_length;
    size_t start = 0;
    while (start <= value.size()) {
      size_t nl = value.find('\n', start);
      if (nl == std::string_view::npos) nl = value.size();
      std::string_view line = value.substr(start, nl - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      AddLineForms(line, line_options, out);
      size_t b = line.find_first_not_of(" \t");
      size_t e = line.find_last_not_of(" \t");
      if (b != std::string_view::npos && (b != 0 || e + 1 != line.size())) {
        AddLineForms(line.substr(b, e + 1 - b), line_options, out);
      }
      start = nl + 1;
    }
  }
}

void SortUnique(std::vector<std::string>& patterns) {
  std::sort(patterns.begin(), patterns.end());
  auto tail = std::unique(patterns.begin(), patterns.end());
  for (auto it = tail; it != patterns.end(); ++it) WipeString(*it);
  patterns.erase(tail, patterns.end());
  // An empty pattern (e.g. an inapplicable variant) would match everywhere.
  while (!patterns.empty() && patterns.front().empty()) patterns.erase(patterns.begin());
}

}  // namespace jitsec::mask::internal

namespace jitsec::mask {

std::vector<SecretBytes> ExpandSecret(std::string_view value, const Options& options) {
  std::vector<std::string> patterns;
  patterns.reserve(48);
  internal::ExpandInto(value, options, patterns);
  internal::SortUnique(patterns);
  std::vector<SecretBytes> out;
  out.reserve(patterns.size());
  for (std::string& p : patterns) {
    out.emplace_back(p);
    internal::WipeString(p);
  }
  return out;
}

}  // namespace jitsec::mask
