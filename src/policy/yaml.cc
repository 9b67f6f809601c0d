// The policy's YAML through yaml-cpp: the only file of jitsec that sees yaml-cpp. yaml-cpp
// throws, so every call into it happens in ReadWithYamlCpp, which turns its exceptions into a
// ReadError. Its event API builds jitsec's own tree directly (no YAML::Node in between) and
// notes aliases and the start of a second document on the way.
#include "policy/yaml.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <sstream>

namespace jitsec::policy::yaml {
namespace {

Mark MarkOf(const YAML::Mark& m) {
  if (m.is_null() || m.line < 0) return Mark{};
  return Mark{m.line, m.column};
}

class TreeBuilder final : public YAML::EventHandler {
 public:
  Node root;
  std::optional<Mark> start;  // of the document
  std::optional<Mark> alias;  // the first

  void OnDocumentStart(const YAML::Mark& mark) override { start = MarkOf(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override {
    Node n;
    n.mark = MarkOf(mark);
    Add(std::move(n));
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    if (!alias) alias = MarkOf(mark);
    Add(Node{});
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                const std::string& value) override {
    Node n;
    n.type = NodeType::kScalar;
    n.mark = MarkOf(mark);
    n.tag = tag;
    n.scalar = value;
    Add(std::move(n));
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Open(NodeType::kSequence, mark, tag);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Open(NodeType::kMap, mark, tag);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Frame {
    Node node;
    std::optional<Node> key;  // a map's key waiting for its value
  };
  std::vector<Frame> open_;

  void Open(NodeType type, const YAML::Mark& mark, const std::string& tag) {
    Frame f;
    f.node.type = type;
    f.node.mark = MarkOf(mark);
    f.node.tag = tag;
    open_.push_back(std::move(f));
  }
  void Close() {
    Node n = std::move(open_.back().node);
    open_.pop_back();
    Add(std::move(n));
  }
  void Add(Node n) {
    if (open_.empty()) {
      root = std::move(n);
      return;
    }
    Frame& f = open_.back();
    if (f.node.IsSequence()) {
      f.node.items.push_back(std::move(n));
    } else if (!f.key) {
      f.key = std::move(n);
    } else {
      f.node.entries.emplace_back(std::move(*f.key), std::move(n));
      f.key.reset();
    }
  }
};

constexpr char kAliasMessage[] =
    "aliases (*name) are not supported in a policy (write the value out)";

}  // namespace

Document ReadWithYamlCpp(std::string_view text) {
  Document doc;
  try {
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    TreeBuilder tree;
    if (parser.HandleNextDocument(tree)) {
      if (tree.alias) {
        doc.error = ReadError{*tree.alias, kAliasMessage, false};
        return doc;
      }
      TreeBuilder rest;  // a second document: an alias in it is reported first
      if (parser.HandleNextDocument(rest)) {
        doc.error =
            rest.alias
                ? ReadError{*rest.alias, kAliasMessage, false}
                : ReadError{rest.start.value_or(Mark{}),
                            "a policy is a single YAML document (found a second one)", false};
        return doc;
      }
    }
    doc.root = std::move(tree.root);
  } catch (const YAML::ParserException& e) {
    doc.error = ReadError{MarkOf(e.mark), "invalid YAML: " + e.msg, true};
  } catch (const YAML::Exception& e) {
    doc.error = ReadError{MarkOf(e.mark), "cannot read YAML: " + e.msg, true};
  }
  return doc;
}

Document Read(std::string_view text) {
  if (std::optional<Node> root = ReadSubset(text)) return Document{std::move(*root), {}};
  return ReadWithYamlCpp(text);
}

}  // namespace jitsec::policy::yaml
