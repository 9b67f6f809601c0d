// ReadSubset: jitsec's reader of the YAML policies are written in (see yaml.h). It builds the
// tree yaml-cpp would build, or declines. What it reads:
//
//  - ASCII text, lines ending in "\n" (no tab, no carriage return, no other control character,
//    no byte order mark), no line starting with "---", "..." or "%";
//  - a block map at the top level; block maps and block lists nested by indentation,
//    including a list at its key's indentation and a map started on a list item's line
//    ("- key: value");
//  - one-line scalars: plain, single-quoted ('' for a quote) and double-quoted (one-character
//    escapes such as \n and \"); plain "~", "null", "Null", "NULL" and an empty map value are
//    null, as in yaml-cpp; literal block scalars ("|" and "|-");
//  - one-line flow lists and maps ("[a, 'b']", "{k: v, l: [x]}") of such scalars;
//  - comments: whole lines, and after a value past a space.
//
// Everything else (anchors, aliases, tags, folded and "|+" block scalars, multi-line plain and
// quoted scalars and flow collections, other escapes, "?" keys, an empty list item, any line that
// does not fit the block structure) is declined, and so are a few legal forms yaml-cpp reads in
// ways too subtle to mirror here (plain scalars holding ':', '?' or '#' in a flow collection).
// Declining costs only speed: yaml-cpp then reads the text and reports any error.
#include "policy/yaml.h"

#include <cstddef>

namespace jitsec::policy::yaml {
namespace {

bool IsIndicator(char c) {
  constexpr std::string_view kIndicators = ",[]{}#&*!|>'\"%@`";
  return kIndicators.find(c) != std::string_view::npos;
}

// The character a one-character escape of a double-quoted scalar stands for; kNoEscape for
// the others (\x, \u, \U and the escapes of non-ASCII characters are left to yaml-cpp).
constexpr char kNoEscape = '\x7f';
char Unescape(char c) {
  switch (c) {
    case '0': return '\0';
    case 'a': return '\a';
    case 'b': return '\b';
    case 't': return '\t';
    case 'n': return '\n';
    case 'v': return '\v';
    case 'f': return '\f';
    case 'r': return '\r';
    case 'e': return '\x1b';
    case ' ': return ' ';
    case '"': return '"';
    case '\\': return '\\';
    default: return kNoEscape;
  }
}

// yaml-cpp refuses a key longer than 1024 characters ("illegal map value"); longer ones than
// this are left to it.
constexpr size_t kMaxKeyLength = 1000;

bool IsNullPlain(std::string_view s) {
  return s == "~" || s == "null" || s == "Null" || s == "NULL";
}

class SubsetReader {
 public:
  explicit SubsetReader(std::string_view text) : text_(text) {}

  std::optional<Node> Run() {
    if (!SplitLines()) return std::nullopt;
    size_t first = NextContent(0);
    if (first == lines_.size() || lines_[first].indent != 0) return std::nullopt;
    Node root;
    if (!BlockMap(first, lines_[first].begin, root)) return std::nullopt;
    if (NextContent(next_) != lines_.size()) return std::nullopt;
    return root;
  }

 private:
  struct Line {
    size_t begin;  // offset of the line's first character
    size_t end;    // offset of its "\n" (or of the end of the text)
    int indent;    // leading spaces
    bool content;  // neither blank nor a comment
    bool blank;    // empty or only spaces
  };

  std::string_view text_;
  std::vector<Line> lines_;
  size_t next_ = 0;        // the first line not consumed yet
  mutable int depth_ = 0;  // collections open

  // Counts a collection open while it is read; deeper than any policy (and than the stack
  // allows) is declined, and yaml-cpp reports its own depth error.
  class Nesting {
   public:
    explicit Nesting(int& depth) : depth_(depth), level_(++depth) {}
    ~Nesting() { --depth_; }
    Nesting(const Nesting&) = delete;
    Nesting& operator=(const Nesting&) = delete;
    bool too_deep() const { return level_ > kMaxDepth; }

   private:
    static constexpr int kMaxDepth = 64;
    int& depth_;
    int level_;
  };

  bool SplitLines() {
    size_t begin = 0;
    while (begin < text_.size()) {
      size_t end = text_.find('\n', begin);
      if (end == std::string_view::npos) end = text_.size();
      Line l{begin, end, 0, false, true};
      for (size_t i = begin; i < end; ++i) {
        const unsigned char c = static_cast<unsigned char>(text_[i]);
        if (c < 0x20 || c > 0x7e) return false;
      }
      std::string_view s = text_.substr(begin, end - begin);
      if (s.starts_with("---") || s.starts_with("...") || s.starts_with('%')) return false;
      size_t first = s.find_first_not_of(' ');
      if (first != std::string_view::npos) {
        l.indent = static_cast<int>(first);
        l.content = s[first] != '#';
        l.blank = false;
      }
      lines_.push_back(l);
      begin = end + 1;
    }
    return true;
  }

  size_t NextContent(size_t from) const {
    while (from < lines_.size() && !lines_[from].content) ++from;
    return from;
  }

  Mark MarkAt(size_t line, size_t at) const {
    return Mark{static_cast<int>(line), static_cast<int>(at - lines_[line].begin)};
  }

  // An empty node of `type` at offset `at` of line `line`.
  Node Start(NodeType type, size_t line, size_t at, const char* tag) const {
    Node n;
    n.type = type;
    n.mark = MarkAt(line, at);
    n.tag = tag;
    return n;
  }

  size_t SkipSpaces(size_t at, size_t end) const {
    while (at < end && text_[at] == ' ') ++at;
    return at;
  }

  // After a value ending on the line before next_: the next line with content is not indented
  // deeper than `column` (it would continue the value, or be an error).
  bool NextIsNotDeeper(int column) const {
    const size_t next = NextContent(next_);
    return next == lines_.size() || lines_[next].indent <= column;
  }

  // Only spaces, or a space and a comment, from `at` to `end`.
  bool RestIsEmpty(size_t at, size_t end) const {
    at = SkipSpaces(at, end);
    if (at == end) return true;
    return text_[at] == '#' && text_[at - 1] == ' ';
  }

  // "-" that starts a list item: followed by a space or the end of the line.
  bool IsItemDash(size_t at, size_t end) const {
    return at < end && text_[at] == '-' && (at + 1 == end || text_[at + 1] == ' ');
  }

  // A quoted scalar starting at `at` (a quote); `at` moves past the closing quote.
  bool Quoted(size_t line, size_t& at, size_t end, Node& out) const {
    const char q = text_[at];
    out = Start(NodeType::kScalar, line, at, "!");
    size_t i = at + 1;
    for (;;) {
      if (i >= end) return false;  // continues on the next line
      const char c = text_[i];
      if (q == '"' && c == '\\') {
        if (i + 1 >= end) return false;  // a line continuation
        const char e = Unescape(text_[i + 1]);
        if (e == kNoEscape) return false;
        out.scalar += e;
        i += 2;
        continue;
      }
      if (c == q) {
        if (q == '\'' && i + 1 < end && text_[i + 1] == '\'') {
          out.scalar += '\'';
          i += 2;
          continue;
        }
        break;
      }
      out.scalar += c;
      ++i;
    }
    at = i + 1;
    return true;
  }

  // A plain scalar starting at `at`. In a block: it ends at ": ", a ':' ending the line, " #"
  // or the end of the line. In a flow collection also at ",[]{}" (declined: ':' or '?' or '#'
  // anywhere in it). `at` moves to where it ended; trailing spaces are not part of it.
  bool Plain(size_t line, size_t& at, size_t end, bool flow, Node& out) const {
    const char c0 = text_[at];
    if (IsIndicator(c0)) return false;
    if ((c0 == '-' || c0 == '?' || c0 == ':') && (at + 1 == end || text_[at + 1] == ' ')) {
      return false;
    }
    size_t i = at;
    for (; i < end; ++i) {
      const char c = text_[i];
      if (c == ':' && (i + 1 == end || text_[i + 1] == ' ')) break;
      if (c == '#' && text_[i - 1] == ' ') break;
      if (flow) {
        if (c == ',' || c == '[' || c == ']' || c == '{' || c == '}') break;
        if (c == ':' || c == '?' || c == '#') return false;
      }
    }
    size_t last = i;
    while (last > at && text_[last - 1] == ' ') --last;
    if (last == at) return false;
    std::string_view s = text_.substr(at, last - at);
    if (IsNullPlain(s)) {
      out = Start(NodeType::kNull, line, at, "");
    } else {
      out = Start(NodeType::kScalar, line, at, "?");
      out.scalar = std::string(s);
    }
    at = i;
    return true;
  }

  // A node inside a flow collection: a scalar or a nested collection.
  bool FlowNode(size_t line, size_t& at, size_t end, Node& out) const {
    if (at >= end) return false;
    const char c = text_[at];
    if (c == '[' || c == '{') return Flow(line, at, end, out);
    if (c == '"' || c == '\'') return Quoted(line, at, end, out);
    if (!Plain(line, at, end, true, out)) return false;
    return !out.IsNull();  // null entries: declined
  }

  // A flow list or map starting at `at` ('[' or '{'), closed on the same line.
  bool Flow(size_t line, size_t& at, size_t end, Node& out) const {
    Nesting nesting(depth_);
    if (nesting.too_deep()) return false;
    const bool is_map = text_[at] == '{';
    const char close = is_map ? '}' : ']';
    out = Start(is_map ? NodeType::kMap : NodeType::kSequence, line, at, "?");
    size_t i = SkipSpaces(at + 1, end);
    if (i < end && text_[i] == close) {
      at = i + 1;
      return true;
    }
    for (;;) {
      Node item;
      const size_t item_start = i;
      if (!FlowNode(line, i, end, item)) return false;
      if (is_map) {
        if (!item.IsScalar() || i >= end || text_[i] != ':' || i + 1 >= end ||
            text_[i + 1] != ' ' || i - item_start > kMaxKeyLength) {
          return false;
        }
        i = SkipSpaces(i + 2, end);
        Node value;
        if (!FlowNode(line, i, end, value)) return false;
        out.entries.emplace_back(std::move(item), std::move(value));
      } else {
        out.items.push_back(std::move(item));
      }
      i = SkipSpaces(i, end);
      if (i >= end) return false;
      if (text_[i] == close) break;
      if (text_[i] != ',') return false;
      i = SkipSpaces(i + 1, end);
      if (i >= end || text_[i] == close) return false;  // a trailing comma
    }
    at = i + 1;
    return true;
  }

  // A map key at `at`: a one-line scalar followed by ':' and a space or the end of the line.
  // `at` moves past the ':'.
  bool Key(size_t line, size_t& at, size_t end, Node& out) const {
    const size_t start = at;
    const char c = text_[at];
    if (c == '"' || c == '\'') {
      if (!Quoted(line, at, end, out)) return false;
    } else if (!Plain(line, at, end, false, out)) {
      return false;
    }
    if (at >= end || text_[at] != ':' || text_[at - 1] == ' ') return false;
    if (at + 1 < end && text_[at + 1] != ' ') return false;
    if (at - start > kMaxKeyLength) return false;
    ++at;
    return true;
  }

  // Whether a key starts at `at` (a scalar followed by ": " or a final ':').
  bool KeyStartsAt(size_t line, size_t at, size_t end) const {
    Node ignored;
    return Key(line, at, end, ignored);
  }

  // A block map whose first key starts at offset `at` of line `line`; its other keys start
  // lines indented to the same column.
  bool BlockMap(size_t line, size_t at, Node& out) {
    Nesting nesting(depth_);
    if (nesting.too_deep()) return false;
    out = Start(NodeType::kMap, line, at, "?");
    const int column = static_cast<int>(at - lines_[line].begin);
    for (;;) {
      const size_t end = lines_[line].end;
      Node key;
      if (!Key(line, at, end, key)) return false;
      Node value;
      if (!BlockValue(line, at, column, false, value)) return false;
      out.entries.emplace_back(std::move(key), std::move(value));
      const size_t next = NextContent(next_);
      if (next == lines_.size() || lines_[next].indent < column) return true;
      if (lines_[next].indent > column) return false;
      line = next;
      at = lines_[line].begin + column;
    }
  }

  // A block list whose items start with "-" at `column` of line `line` and of the lines after.
  bool BlockSeq(size_t line, int column, Node& out) {
    Nesting nesting(depth_);
    if (nesting.too_deep()) return false;
    out = Start(NodeType::kSequence, line, lines_[line].begin + column, "?");
    for (;;) {
      const size_t at = lines_[line].begin + column;
      if (!IsItemDash(at, lines_[line].end)) return false;
      Node item;
      if (!BlockValue(line, at + 1, column, true, item)) return false;
      out.items.push_back(std::move(item));
      const size_t next = NextContent(next_);
      if (next == lines_.size() || lines_[next].indent < column) return true;
      if (lines_[next].indent > column) return false;
      if (!IsItemDash(lines_[next].begin + column, lines_[next].end)) return true;  // the map's
      line = next;
    }
  }

  // A literal block scalar ("|" or "|-", then an optional comment) at `at`, whose lines are
  // indented deeper than `column` (the map's or the list's). Declined: an indentation indicator,
  // "|+", a folded scalar (">"), blank lines before its first line or wider than its
  // indentation, and one that runs to the end of a text without a final newline.
  bool Literal(size_t line, size_t at, int column, Node& out) {
    const size_t end = lines_[line].end;
    out = Start(NodeType::kScalar, line, at, "!");
    size_t i = at + 1;
    const bool strip = i < end && text_[i] == '-';
    if (strip) ++i;
    if (i < end && text_[i] != ' ') return false;
    if (!RestIsEmpty(i, end)) return false;
    size_t first = line + 1;
    if (first >= lines_.size() || lines_[first].blank) return false;
    const int indent = lines_[first].indent;
    if (indent <= column) return false;
    size_t last = first;     // the last line with text
    size_t blank_lines = 0;  // blank lines since then
    for (size_t l = first; l < lines_.size(); ++l) {
      const Line& ln = lines_[l];
      if (ln.blank) {
        if (static_cast<int>(ln.end - ln.begin) > indent) return false;
        ++blank_lines;
        continue;
      }
      if (ln.indent < indent) break;
      out.scalar.append(blank_lines, '\n');
      blank_lines = 0;
      out.scalar.append(text_.substr(ln.begin + indent, ln.end - ln.begin - indent));
      out.scalar += '\n';
      last = l;
    }
    if (lines_[last].end == text_.size()) return false;  // no final newline
    if (strip) out.scalar.pop_back();
    next_ = last + 1;
    return NextIsNotDeeper(column);
  }

  // The value of a map entry or a list item, from `at` on line `line` (after "key:" or "-").
  // `column` is the map's or the list's. Consumes its lines (next_).
  bool BlockValue(size_t line, size_t at, int column, bool item, Node& out) {
    const size_t end = lines_[line].end;
    at = SkipSpaces(at, end);
    if (RestIsEmpty(at, end)) {
      // Nothing on this line: a nested block on the next ones, or null.
      const size_t next = NextContent(line + 1);
      if (next < lines_.size()) {
        const Line& n = lines_[next];
        const size_t first = n.begin + n.indent;
        if (n.indent > column) {
          if (IsItemDash(first, n.end)) return BlockSeq(next, n.indent, out);
          return BlockMap(next, first, out);
        }
        // A list at its key's indentation.
        if (n.indent == column && !item && IsItemDash(first, n.end)) {
          return BlockSeq(next, n.indent, out);
        }
      }
      if (item) return false;  // an empty list item: yaml-cpp's mark for it is not mirrored
      out = Node{};
      next_ = line + 1;
      return true;
    }
    if (KeyStartsAt(line, at, end)) {
      if (!item) return false;  // "a: b: c"
      return BlockMap(line, at, out);
    }
    const char c = text_[at];
    if (c == '|') return Literal(line, at, column, out);
    bool ok = false;
    if (c == '[' || c == '{') {
      ok = Flow(line, at, end, out);
    } else if (c == '"' || c == '\'') {
      ok = Quoted(line, at, end, out);
    } else {
      ok = Plain(line, at, end, false, out);
    }
    if (!ok || !RestIsEmpty(at, end)) return false;
    next_ = line + 1;
    return NextIsNotDeeper(column);
  }
};

}  // namespace

std::optional<Node> ReadSubset(std::string_view text) { return SubsetReader(text).Run(); }

}  // namespace jitsec::policy::yaml
