// model_dir/loss_history.csv: rows read back exactly as appended, a resumed run drops what was
// logged past its checkpoint, and a damaged file is named (read) or replaced (continued).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "test_util.h"
#include "trainer/core/error.h"
#include "trainer/train/loss_history.h"

namespace trainer::train {
namespace {

std::string contents(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(LossHistory, RowsReadBackExactlyAsAppended) {
  testing::ScratchDir dir;
  const std::string path = dir.path() + "/sub/loss_history.csv";  // the folder is made
  {
    LossHistory history(path, 0);
    history.append({10, 2.718281828459045, 0.1});
    history.append({20, 0.1 + 0.2, 1e-5});
  }
  EXPECT_EQ(contents(path), "step,loss,lr\n10,2.718281828459045,0.1\n20,0.30000000000000004,1e-05\n");
  const std::vector<LossHistory::Row> rows = LossHistory::read(path).rows;
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].step, 20);
  EXPECT_EQ(rows[1].loss, 0.1 + 0.2);
  EXPECT_EQ(rows[1].lr, 1e-5);
  EXPECT_TRUE(LossHistory::read(dir.path() + "/none.csv").rows.empty());
}

TEST(LossHistory, ContinuingFromAStepDropsTheRowsLoggedAfterIt) {
  testing::ScratchDir dir;
  const std::string path = dir.path() + "/loss_history.csv";
  {
    LossHistory history(path, 0);
    for (int step = 10; step <= 50; step += 10) history.append({step, 1.0 / step, 0.01});
  }
  {
    LossHistory resumed(path, 30);  // the checkpoint was at 30; 40 and 50 are logged again
    resumed.append({40, 7, 0.02});
  }
  const std::vector<LossHistory::Row> rows = LossHistory::read(path).rows;
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[2].step, 30);
  EXPECT_EQ(rows[3].step, 40);
  EXPECT_EQ(rows[3].loss, 7);
  { LossHistory fresh(path, 0); }  // a run that starts over starts the curve over
  EXPECT_EQ(contents(path), "step,loss,lr\n");
}

TEST(LossHistory, TheLossTermsAreColumnsNamedInTheHeader) {
  testing::ScratchDir dir;
  const std::string path = dir.path() + "/loss_history.csv";
  {
    LossHistory history(path, 0, {"classification", "localization"});
    history.append({5, 1.5, 0.1, {1.25, 0.25}});
    EXPECT_THROW(history.append({10, 1.5, 0.1, {1.5}}), Error);
  }
  EXPECT_EQ(contents(path), "step,loss,lr,classification,localization\n5,1.5,0.1,1.25,0.25\n");
  const LossHistory::Table table = LossHistory::read(path);
  EXPECT_EQ(table.term_names, (std::vector<std::string>{"classification", "localization"}));
  ASSERT_EQ(table.rows.size(), 1u);
  EXPECT_EQ(table.rows[0].terms, (std::vector<double>{1.25, 0.25}));
  // A row with a number missing or one too many is named.
  std::ofstream(path, std::ios::app) << "10,1,0.1,0.5\n";
  EXPECT_THROW(LossHistory::read(path), Error);
  std::ofstream(path) << "step,loss,lr,classification\n10,1,0.1,0.5,0.5\n";
  EXPECT_THROW(LossHistory::read(path), Error);
  // Another task's history (other columns) is not continued: it starts over.
  std::ofstream(path) << "step,loss,lr\n10,1,0.1\n";
  { LossHistory other(path, 10, {"classification"}); }
  EXPECT_EQ(contents(path), "step,loss,lr,classification\n");
}

TEST(LossHistory, ADamagedFileIsNamedWhenReadAndReplacedWhenContinued) {
  testing::ScratchDir dir;
  const std::string path = dir.path() + "/loss_history.csv";
  std::ofstream(path) << "step,loss,lr\n10,0.5,0.1\n20,oops,0.1\n";
  try {
    LossHistory::read(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":3: expected 'step,loss,lr'"), std::string::npos) << e.what();
  }
  std::ofstream(path) << "epoch,accuracy\n1,0.5\n";
  EXPECT_THROW(LossHistory::read(path), Error);
  {
    LossHistory history(path, 100);
    history.append({110, 0.25, 0.1});
  }
  EXPECT_EQ(contents(path), "step,loss,lr\n110,0.25,0.1\n");
}

}  // namespace
}  // namespace trainer::train
