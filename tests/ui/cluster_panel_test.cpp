// The pipeline editor's N-machine forecast (issue 15, ui/cluster_panel.hpp): the fields change the
// forecast shown at once, the bottleneck is highlighted and named in words, the machines follow
// the stage count, and "Measure this machine" times the real units off the GUI thread (the event
// loop keeps running) and caches them per model, so cutting again needs no new measurement.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/cluster_panel.hpp"

#include "ui/pipeline_editor.hpp"
#include "ui/unit_strip.hpp"

#include "tests/ui/tiny_experiment.hpp"

#include <QDoubleSpinBox>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTest>

#include <gtest/gtest.h>

namespace lp::ui {
namespace {

using core::session::Bottleneck;
using core::session::UnitCost;

// The editor on the 40-minibatch experiment, ResNet-18 at width 16 cut 3,5,7 (four stages).
core::io::ExperimentConfig fourStages() {
    core::io::ExperimentConfig c = test::fortyMinibatches();
    c.model.width = 16;
    c.model.classes = 10;
    c.pipeline.cuts = {3, 5, 7};
    return c;
}

// 10 ms per unit (4 forward, 6 backward), except layer2.0 (unit 3): 40 ms.
std::vector<UnitCost> handCosts() {
    std::vector<UnitCost> c(10);
    for (std::size_t u = 0; u < c.size(); ++u) {
        const double scale = u == 3 ? 4.0 : 1.0;
        c[u] = {"u", scale * 4e-3, scale * 6e-3, 0.0};
    }
    return c;
}

TEST(ClusterPanel, ShowsTheBottleneckMachineThenTheSlowLink) {
    PipelineEditor editor;
    editor.setConfig(fourStages());
    ClusterPanel* panel = editor.clusterPanel();
    EXPECT_FALSE(panel->clusterForecast().has_value());  // nothing measured yet
    EXPECT_TRUE(panel->statusLabel()->text().contains("Not measured"));
    EXPECT_EQ(panel->machinesSpin()->maximum(), 4);
    panel->setUnitCosts(handCosts());
    panel->machinesSpin()->setValue(4);
    panel->gbitSpin()->setValue(10.0);
    panel->latencySpin()->setValue(50.0);
    ASSERT_TRUE(panel->clusterForecast().has_value());
    // Stage 1 (layer2.0 40 ms + layer2.1 10 ms) is the slowest: 50 ms, 640 images/s.
    EXPECT_EQ(panel->clusterForecast()->bottleneck, Bottleneck::Machine);
    EXPECT_EQ(panel->clusterForecast()->bottleneckIndex, 1);
    EXPECT_TRUE(panel->summaryLabel()->text().contains("50.0 ms"));
    EXPECT_TRUE(panel->summaryLabel()->text().contains("640.0</b> images/s"));
    EXPECT_TRUE(panel->summaryLabel()->text().contains(
        "stage 1 (machine 1): 50.0 ms of compute per minibatch"));
    EXPECT_EQ(panel->bars()->rowLabels(),
              QStringList({"machine 0 · stage 0",
                           "link 0 → 1 · 2.0 MiB",
                           "machine 1 · stage 1",
                           "link 1 → 2 · 1.0 MiB",
                           "machine 2 · stage 2",
                           "link 2 → 3 · 512 KiB",
                           "machine 3 · stage 3"}));
    // 0.1 Gbit/s: the 2,097,192 B after layer1.1 take 167.8 ms, the slowest link.
    panel->gbitSpin()->setValue(0.1);
    EXPECT_EQ(panel->clusterForecast()->bottleneck, Bottleneck::Link);
    EXPECT_EQ(panel->clusterForecast()->bottleneckIndex, 0);
    EXPECT_TRUE(panel->summaryLabel()->text().contains("the link machine 0 -&gt; 1"));
    EXPECT_TRUE(panel->summaryLabel()->text().contains("167.8 ms"));
    // Two machines: stages 0-1 and 2-3 share a machine each; one link, after stage 1.
    panel->gbitSpin()->setValue(10.0);
    panel->machinesSpin()->setValue(2);
    EXPECT_TRUE(panel->summaryLabel()->text().contains("machine 0 (stages 0-1): 80.0 ms"));
    EXPECT_EQ(panel->bars()->rowLabels().size(), 3);
}

TEST(ClusterPanel, MachinesFollowTheStagesAndTheCacheSurvivesNewCuts) {
    PipelineEditor editor;
    editor.setConfig(fourStages());
    ClusterPanel* panel = editor.clusterPanel();
    panel->setUnitCosts(handCosts());
    panel->machinesSpin()->setValue(4);
    editor.strip()->setCuts({5});  // two stages: at most two machines, same unit times
    EXPECT_EQ(panel->machinesSpin()->maximum(), 2);
    EXPECT_EQ(panel->machinesSpin()->value(), 2);
    ASSERT_TRUE(panel->clusterForecast().has_value());
    EXPECT_EQ(panel->clusterForecast()->machines.size(), 2U);
    core::io::ExperimentConfig wider = fourStages();  // another model: another measurement
    wider.model.width = 32;
    editor.setConfig(wider);
    EXPECT_FALSE(panel->clusterForecast().has_value());
    EXPECT_TRUE(panel->measureButton()->isEnabled());
}

TEST(ClusterPanel, MeasureTimesTheRealUnitsWithoutBlockingTheEventLoop) {
    PipelineEditor editor;
    editor.setConfig(test::tinyExperiment("stash"));  // width 4, batch 8, K = 2
    ClusterPanel* panel = editor.clusterPanel();
    QSignalSpy measured(panel, &ClusterPanel::measured);
    QTest::mouseClick(panel->measureButton(), Qt::LeftButton);
    EXPECT_TRUE(panel->measuring());
    EXPECT_FALSE(panel->measureButton()->isEnabled());
    EXPECT_TRUE(panel->statusLabel()->text().contains("Timing"));
    ASSERT_TRUE(measured.wait(60'000));  // the event loop runs while the units are timed
    EXPECT_FALSE(panel->measuring());
    ASSERT_TRUE(panel->clusterForecast().has_value());
    EXPECT_GT(panel->clusterForecast()->stepSeconds, 0.0);
    EXPECT_EQ(panel->clusterForecast()->machines.size(), 1U);
    panel->machinesSpin()->setValue(2);
    ASSERT_EQ(panel->clusterForecast()->links.size(), 1U);
    EXPECT_EQ(panel->clusterForecast()->links[0].unit, "layer2.1");  // the cut before unit 5
    EXPECT_TRUE(panel->summaryLabel()->text().contains("Bottleneck:"));
}

TEST(ClusterPanel, NoMeasuringWhileARunUsesThePipeline) {
    PipelineEditor editor;
    editor.setConfig(test::tinyExperiment("stash"));
    editor.setEditable(false);
    EXPECT_FALSE(editor.clusterPanel()->measureButton()->isEnabled());
    editor.clusterPanel()->measure();
    EXPECT_FALSE(editor.clusterPanel()->measuring());
    editor.setEditable(true);
    EXPECT_TRUE(editor.clusterPanel()->measureButton()->isEnabled());
}

}  // namespace
}  // namespace lp::ui
