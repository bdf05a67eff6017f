// File: tools/coschedctl/table.h
// Table: aligned text columns for people (`coschedctl get jobs`, `describe job`). Columns are
// separated by two spaces and padded to their widest cell, counted in UTF-8 characters so
// names with accents still line up; the last column is never padded (no trailing blanks).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace cosched::coschedctl {

class Table {
 public:
  // An empty `headers` makes a table without a header line (key/value listings).
  explicit Table(std::vector<std::string> headers = {}) : headers_(std::move(headers)) {}

  // Rows may be shorter than others: missing cells are empty.
  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  // Numbers read better right-aligned; columns are left-aligned unless marked here.
  void AlignRight(size_t column);

  size_t rows() const { return rows_.size(); }
  // Every line ends with '\n'; an empty table without headers renders as "".
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<bool> right_;
};

// The number of characters (UTF-8 code points) in `text`: its width in a terminal for the
// Latin text cosched prints (wide CJK characters would count as one).
size_t DisplayWidth(const std::string& text);

}  // namespace cosched::coschedctl
