// The studio opens the run folder of `mpirun -n 2 layerpipe run --mpi` (issue 15, point 3): the
// timeline names each stage row's rank and host, parts the ranks with a line labelled with the
// link's bytes and send time per step each way (mpi.json), and draws the messages as arrows.
// The folder comes from a real run: made here by mpiexec in an MPI build, otherwise the one
// checked in under tests/ui/data/mpi_run (made by the same command).
// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/chart_panel.hpp"
#include "ui/main_window.hpp"
#include "ui/message_arrows.hpp"
#include "ui/timeline_view.hpp"

#include <unistd.h>

#include <QTemporaryDir>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace lp::ui {
namespace {

// Two ranks for two stages, 24 minibatches of 8 images 8x8 over two epochs.
const std::string kFlags =
    "run --mpi --dataset synthetic --width 4 --batch-size 8 --epochs 2 --set "
    "data.syntheticTrain=96 --set data.syntheticTest=16 --set model.inputSize=8 --threads 1 "
    "--seed 7 --stages 5 --policy stash";

// A folder written by a real two-rank run.
QString mpiRunFolder(const QTemporaryDir& tmp) {
#if defined(LP_MPIEXEC) && defined(LP_CLI_PATH)
    const std::string out = (std::filesystem::path(tmp.path().toStdString()) / "run").string();
    std::string cmd = std::string(LP_MPIEXEC) + " -n 2 --oversubscribe --bind-to none ";
    if (::geteuid() == 0) {
        cmd += "--allow-run-as-root ";
    }
    cmd += std::string(LP_CLI_PATH) + " " + kFlags + " --out " + out + " > /dev/null 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return QString::fromStdString(out);
#else
    (void)tmp;
    return QStringLiteral(LP_MPI_RUN_FOLDER);
#endif
}

TEST(MpiRunFolder, TimelineShowsRanksHostsLinksAndMessages) {
    const QTemporaryDir tmp;
    MainWindow w;
    w.resize(1400, 900);
    w.show();
    w.openRunFolder(mpiRunFolder(tmp));
    TimelineView* t = w.charts()->timeline();
    ASSERT_EQ(t->stageRows(), 2);
    EXPECT_TRUE(t->rowLabel(0).contains(QStringLiteral("\nrank 0 · ")))
        << t->rowLabel(0).toStdString();
    EXPECT_TRUE(t->rowLabel(1).contains(QStringLiteral("\nrank 1 · ")))
        << t->rowLabel(1).toStdString();

    const QStringList boundaries = t->boundaryLabels();
    ASSERT_EQ(boundaries.size(), 1);
    for (const char* words : {"rank 0 | rank 1", "↓ activations", "↑ gradients", "ms per step"}) {
        EXPECT_TRUE(boundaries[0].contains(QString::fromUtf8(words)))
            << boundaries[0].toStdString() << " lacks " << words;
    }

    // One forward and one backward message per minibatch, each from one stage to the other.
    const auto& messages = t->messageArrows()->messages();
    ASSERT_EQ(messages.size(), 2U * 24U);
    for (const auto& [from, to] : messages) {
        EXPECT_EQ(from.op, to.op);
        EXPECT_EQ(from.minibatch, to.minibatch);
        EXPECT_EQ(from.stage, from.op == core::telemetry::OpKind::Forward ? 0 : 1);
        EXPECT_EQ(to.stage, 1 - from.stage);
        EXPECT_EQ(from.rank, from.stage);
        EXPECT_EQ(to.rank, to.stage);
    }
    t->setFollowLive(false);
    t->plot()->rescaleAxes();
    t->plot()->replot();
    EXPECT_EQ(t->messageArrows()->lastDrawnArrows(), messages.size());
    t->plot()->xAxis->setRange(0.0, 4.0);  // ticks 0..4: the first few messages only
    t->plot()->replot();
    EXPECT_GT(t->messageArrows()->lastDrawnArrows(), 0U);
    EXPECT_LT(t->messageArrows()->lastDrawnArrows(), messages.size());

    t->setTimeAxis(TimeAxis::WallClock);  // the same arrows on the measured clock
    t->plot()->rescaleAxes();
    t->plot()->replot();
    EXPECT_EQ(t->messageArrows()->lastDrawnArrows(), messages.size());
}

}  // namespace
}  // namespace lp::ui
