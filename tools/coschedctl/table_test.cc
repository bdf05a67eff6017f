// File: tools/coschedctl/table_test.cc
// Table: column alignment, right-aligned numbers, ragged rows, UTF-8 widths, no trailing
// blanks.
#include "tools/coschedctl/table.h"

#include <gtest/gtest.h>

namespace cosched::coschedctl {
namespace {

TEST(TableTest, AlignsColumnsToTheWidestCell) {
  Table table({"ID", "STATE", "STEP"});
  table.AddRow({"job-1", "running", "1200"});
  table.AddRow({"job-10", "pending", "0"});
  EXPECT_EQ(table.Render(),
            "ID      STATE    STEP\n"
            "job-1   running  1200\n"
            "job-10  pending  0\n");
  EXPECT_EQ(table.rows(), 2u);
}

TEST(TableTest, RightAlignedColumns) {
  Table table({"NAME", "STEP", "NOTE"});
  table.AlignRight(1);
  table.AddRow({"a", "5", "x"});
  table.AddRow({"b", "1200", ""});
  EXPECT_EQ(table.Render(),
            "NAME  STEP  NOTE\n"
            "a        5  x\n"
            "b     1200\n");
}

TEST(TableTest, ShortRowsAndNoTrailingBlanks) {
  Table table({"A", "B", "C"});
  table.AddRow({"long value"});
  table.AddRow({"x", "y", "z"});
  EXPECT_EQ(table.Render(),
            "A           B  C\n"
            "long value\n"
            "x           y  z\n");
}

TEST(TableTest, WithoutHeaders) {
  Table empty;
  EXPECT_EQ(empty.Render(), "");
  Table pairs;
  pairs.AddRow({"State:", "pending"});
  pairs.AddRow({"Generation:", "-1"});
  EXPECT_EQ(pairs.Render(),
            "State:       pending\n"
            "Generation:  -1\n");
}

TEST(TableTest, HeaderOnlyWhenNoRows) {
  Table table({"NODE", "KIND"});
  EXPECT_EQ(table.Render(), "NODE  KIND\n");
}

TEST(TableTest, CountsUtf8Characters) {
  EXPECT_EQ(DisplayWidth("zone"), 4u);
  EXPECT_EQ(DisplayWidth("Zürich"), 6u);
  Table table({"ZONE", "N"});
  table.AddRow({"Zürich", "1"});
  table.AddRow({"Bern", "2"});
  EXPECT_EQ(table.Render(),
            "ZONE    N\n"
            "Zürich  1\n"
            "Bern    2\n");
}

}  // namespace
}  // namespace cosched::coschedctl
