// The policy's YAML, read into a small tree of its own. Two readers build the same tree:
//
//  - ReadSubset, jitsec's reader of the block-style YAML that policies are written in (block
//    maps and lists, one-line flow lists and maps, one-line scalars, literal block scalars,
//    comments; yaml_subset.cc lists exactly what).
//    It is 15-20x faster than yaml-cpp's scanner, which was the largest part of `check`,
//    `tasks` and `explain`. It never reports an error: on anything outside its subset (or
//    anything it doubts) it declines, and
//  - ReadWithYamlCpp reads the text with yaml-cpp (its event API; the only code of jitsec that
//    sees yaml-cpp), which gives every YAML syntax error its message and position.
//
// Read() tries the first and falls back to the second. Tests hold ReadSubset to yaml-cpp: on
// the example and test policies, on thousands of mutations of them and on generated documents,
// every tree it returns is the one yaml-cpp builds (tests/unit/policy/yaml_test.cc).
// Parent side only.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jitsec::policy::yaml {

// A position in the text, 0-based like yaml-cpp's marks; line < 0 when unknown.
struct Mark {
  int line = -1;
  int column = -1;
  bool is_null() const { return line < 0; }
  bool operator==(const Mark&) const = default;
};

enum class NodeType { kNull, kScalar, kSequence, kMap };

struct Node {
  NodeType type = NodeType::kNull;
  // Where the node starts. An empty value ("key:" with nothing after it) has the mark of
  // whatever token follows it in yaml-cpp, which ReadSubset does not reproduce: it leaves the
  // mark unknown there (the loader places such a value at its key).
  Mark mark;
  std::string tag;          // "?" plain scalar or collection, "!" quoted scalar, or a tag
  std::string scalar;       // kScalar
  std::vector<Node> items;  // kSequence
  std::vector<std::pair<Node, Node>> entries;  // kMap: key, value; in order, duplicates kept

  bool IsNull() const { return type == NodeType::kNull; }
  bool IsScalar() const { return type == NodeType::kScalar; }
  bool IsSequence() const { return type == NodeType::kSequence; }
  bool IsMap() const { return type == NodeType::kMap; }
  const std::string& Scalar() const { return scalar; }
  const std::string& Tag() const { return tag; }
  size_t size() const { return IsMap() ? entries.size() : items.size(); }
  const Node& operator[](size_t i) const { return items[i]; }
};

struct ReadError {
  Mark mark;
  std::string message;
  bool syntax = true;  // a YAML syntax error (else a YAML feature policies refuse)
};

struct Document {
  Node root;  // kNull for an empty document
  std::optional<ReadError> error;
};

// The first document of `text`. Refused: aliases (a small file expanding into a huge tree,
// one value under several keys) and a second document (it would be ignored).
Document Read(std::string_view text);

// The fast reader alone: the tree, or nullopt when the text is outside its subset.
std::optional<Node> ReadSubset(std::string_view text);
// yaml-cpp alone.
Document ReadWithYamlCpp(std::string_view text);

}  // namespace jitsec::policy::yaml
