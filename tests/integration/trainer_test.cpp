// Trainer and Session: experiments from configs, checkpoints, bit-identical resume, non-finite
// loss handling, a short synthetic run that learns.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/session/trainer.hpp"

#include "core/error.hpp"
#include "core/io/safetensors.hpp"
#include "core/session/session.hpp"
#include "core/telemetry/recorder.hpp"

#include "tests/support/expect_input_error.hpp"
#include "tests/support/tiny_trainer.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <string>
#include <thread>
#include <vector>

namespace lp::core::session {
namespace {

using test::sameWeights;
using test::tempFile;

// What a resume test checks between the load and the resumed epoch: the trainer saved after one
// epoch, the one loaded from its checkpoint, and the config stored there.
using AtResume =
    std::function<void(Trainer& first, Trainer& resumed, const io::ExperimentConfig& stored)>;

// "One epoch, save to `name`, resume to two" against "two epochs": the resumed run is built from
// the checkpoint's own config, finishes, and ends with the straight run's bits.
void expectResumeIsBitIdentical(const io::ExperimentConfig& c,
                                bool sequential,
                                const std::string& name,
                                const AtResume& atResume) {
    Trainer straight(Experiment::create(c, sequential), nullptr);
    straight.runEpoch();
    straight.runEpoch();

    Trainer first(Experiment::create(c, sequential), nullptr);
    first.runEpoch();
    const auto file = tempFile(name);
    first.save(file);
    const io::ExperimentConfig stored = checkpointConfig(file);
    Trainer resumed(Experiment::create(stored, sequential), nullptr);
    resumed.load(file, true);
    atResume(first, resumed, stored);
    resumed.runEpoch();
    EXPECT_TRUE(resumed.finished());
    EXPECT_TRUE(sameWeights(straight, resumed));
    std::filesystem::remove(file);
}

// Issue 12: "one epoch, save, resume to two" equals "two epochs" to the bit for every LR
// schedule and weight policy, with the resumed run built from the checkpoint's own config.
TEST(Trainer, ResumeIsBitIdenticalForEveryScheduleAndPolicy) {
    for (const char* schedule : {"constant", "step", "cosine"}) {
        for (const char* policy : {"sequential", "stash", "ema", "momentum"}) {
            SCOPED_TRACE(std::string(schedule) + " / " + policy);
            const bool sequential = std::string(policy) == "sequential";
            io::ExperimentConfig c = test::tinyTrainerConfig();
            c.schedule.kind = *parseChoice<LrScheduleKind>(schedule);
            c.schedule.stepEpochs = 1;
            c.schedule.warmupEpochs = 0.5;
            if (!sequential) {
                c.pipeline.cuts = {4, 7};
                c.pipeline.policy = *parseChoice<WeightPolicy>(policy);
            }
            expectResumeIsBitIdentical(
                c,
                sequential,
                std::string("resume-") + schedule + policy,
                [&](Trainer&, Trainer& resumed, const io::ExperimentConfig& stored) {
                    EXPECT_EQ(stored, c);
                    EXPECT_EQ(resumed.epoch(), 1);
                });
        }
    }
}

// Issue 14: the same under the Adam family with the momentum and EMA policies (their optimizer
// state, the EMA buffer and the momentum policy's lr_last come back from the checkpoint).
TEST(Trainer, ResumeIsBitIdenticalUnderEveryOptimizer) {
    for (const char* kind : {"adam", "adamw", "lamb"}) {
        for (const char* policy : {"momentum", "ema"}) {
            SCOPED_TRACE(std::string(kind) + " / " + policy);
            io::ExperimentConfig c = test::tinyTrainerConfig();
            c.optimizer.kind = *parseChoice<OptimizerKind>(kind);
            c.optimizer.lr = 0.01;
            c.pipeline.cuts = {4, 7};
            c.pipeline.policy = *parseChoice<WeightPolicy>(policy);
            expectResumeIsBitIdentical(
                c,
                false,
                std::string("resume-") + kind + policy,
                [](Trainer& first, Trainer& resumed, const io::ExperimentConfig&) {
                    for (std::int64_t s = 0; s < resumed.core().stageCount(); ++s) {
                        EXPECT_EQ(resumed.core().stage(s).lastLr(), first.core().stage(s).lastLr());
                        EXPECT_GT(resumed.core().stage(s).lastLr(), 0.0F);
                    }
                });
        }
    }
}

// A sequential epoch stopped midway keeps its place: save, load, finish = one run through.
TEST(Trainer, SequentialEpochStoppedMidwayContinuesExactly) {
    io::ExperimentConfig c = test::tinyTrainerConfig();
    Trainer straight(Experiment::create(c, true), nullptr);
    const EpochReport s1 = straight.runEpoch();
    straight.runEpoch();

    Trainer first(Experiment::create(c, true), nullptr);
    // Allow ticks 0..2 (three minibatches of the six), then stop.
    const EpochReport stopped =
        first.runEpoch([](std::int64_t done) -> std::int64_t { return done < 0 ? 2 : -1; });
    EXPECT_FALSE(stopped.completed);
    EXPECT_EQ(first.epoch(), 0);
    EXPECT_EQ(first.epochStep(), 3);
    EXPECT_EQ(first.step(), 3);
    const auto file = tempFile("midway");
    first.save(file);
    const auto meta = io::readSafetensors(file).metadata;
    EXPECT_EQ(meta.at("epoch_step"), "3");
    EXPECT_EQ(meta.at("step"), "3");

    Trainer resumed(Experiment::create(checkpointConfig(file), true), nullptr);
    resumed.load(file, true);
    EXPECT_EQ(resumed.epochStep(), 3);
    const EpochReport r1 = resumed.runEpoch();
    EXPECT_TRUE(r1.completed);
    EXPECT_EQ(resumed.epochStep(), 0);
    // The epoch's figures cover all six minibatches (the loss sum in another order: close).
    EXPECT_NEAR(r1.trainLoss, s1.trainLoss, 1e-12);
    EXPECT_EQ(r1.trainAccuracy, s1.trainAccuracy);
    resumed.runEpoch();
    EXPECT_TRUE(sameWeights(straight, resumed));
    std::filesystem::remove(file);
}

// Metadata that is not a whole number in range, or a place that does not fit the experiment,
// is refused by name instead of overflowing later.
TEST(Trainer, ResumeMetadataIsCheckedStrictly) {
    io::ExperimentConfig c = test::tinyTrainerConfig();
    Trainer t(Experiment::create(c, true), nullptr);
    t.runEpoch();
    const auto file = tempFile("meta");
    t.save(file);
    const io::SafetensorsFile good = io::readSafetensors(file);
    const auto withMeta = [&](const std::string& key, const std::string& value) {
        io::SafetensorsFile f = good;
        f.metadata[key] = value;
        io::writeSafetensors(file, f);
    };
    Trainer other(Experiment::create(c, true), nullptr);
    // Sets `key` to `value`; loading the checkpoint is then refused with a message saying `says`.
    const auto refused = [&](const std::string& key,
                             const std::string& value,
                             std::initializer_list<std::string> says) {
        withMeta(key, value);
        lp::test::expectInputError([&] { other.load(file, true); }, says);
    };
    refused("epoch", "1abc", {"metadata 'epoch' must be a whole number", "'1abc'"});
    refused("epoch", "9223372036854775807", {"'epoch'", "[0, 10000]"});
    refused("epoch", "5", {"has trained 5 epochs", "training.epochs (2)"});
    withMeta("epoch", "1");
    refused("step", "7", {"stopped at step 7", "6 steps per epoch"});
    refused("step", "-1", {"'step'", "got '-1'"});
    withMeta("step", "6");
    refused(
        "lr_last", "0x1.9p-5x", {"metadata 'lr_last' must be a finite number >= 0", "'0x1.9p-5x'"});
    refused("lr_last", "-1", {"'lr_last'", "got '-1'"});
    std::filesystem::remove(file);
}

// A checkpoint's stored config is named as the checkpoint's, not as a config file's problem.
TEST(Trainer, CheckpointConfigErrorsSayTheyComeFromTheCheckpoint) {
    Trainer t(Experiment::create(test::tinyTrainerConfig(), true), nullptr);
    const auto file = tempFile("stored-config");
    t.save(file);
    io::SafetensorsFile f = io::readSafetensors(file);
    f.metadata["config"] = R"({"training": {"epochs": 0}})";
    io::writeSafetensors(file, f);
    lp::test::expectInputError([&] { checkpointConfig(file); },
                               {file.string(),
                                "its stored config is invalid",
                                "'training.epochs' must be in [1, 10000], got 0"});
    f.metadata["config"] = "{not json";
    io::writeSafetensors(file, f);
    lp::test::expectInputError([&] { checkpointConfig(file); },
                               {file.string(), "its stored config is not valid JSON"});
    f.metadata.erase("config");
    io::writeSafetensors(file, f);
    lp::test::expectInputError([&] { checkpointConfig(file); },
                               {file.string(), "has no 'config' metadata", "--config"});
    std::filesystem::remove(file);
}

// What a resumed run may change, and what makes it another run.
TEST(Trainer, RunDefiningDifferencesNameTheKeys) {
    const io::ExperimentConfig a = test::tinyTrainerConfig();
    io::ExperimentConfig b = a;
    b.name = "renamed";
    b.training.threads = 3;
    b.training.epochs = 9;
    b.data.path = "/elsewhere";
    b.pipeline.cuts = {3};
    const auto keys = [](const std::vector<ConfigDifference>& d) {
        std::vector<std::string> k;
        for (const ConfigDifference& x : d) {
            k.push_back(x.key);
        }
        return k;
    };
    EXPECT_TRUE(runDefiningDifferences(a, b, true).empty());
    EXPECT_EQ(keys(runDefiningDifferences(a, b, false)), std::vector<std::string>{"pipeline.cuts"});
    b.optimizer.lr = 0.5;
    b.training.seed = 7;
    const auto d = runDefiningDifferences(a, b, true);
    EXPECT_EQ(keys(d), (std::vector<std::string>{"optimizer.lr", "training.seed"}));
    ASSERT_EQ(d.size(), 2U);
    EXPECT_EQ(d[0].stored, "0.05");
    EXPECT_EQ(d[0].given, "0.5");
    EXPECT_EQ(d[1].stored, "1");
    EXPECT_EQ(d[1].given, "7");
}

TEST(Trainer, CheckpointHasTorchvisionNamesAndOptimizerState) {
    io::ExperimentConfig c = test::tinyTrainerConfig();
    c.training.epochs = 1;
    Trainer t(Experiment::create(c, true), nullptr);
    t.runEpoch();
    const auto file = tempFile("names");
    t.save(file);
    const io::SafetensorsFile f = io::readSafetensors(file);
    ASSERT_NE(f.find("conv1.weight"), nullptr);
    ASSERT_NE(f.find("layer2.0.downsample.0.weight"), nullptr);
    ASSERT_NE(f.find("fc.bias"), nullptr);
    ASSERT_NE(f.find("optimizer.fc.weight.momentum_buffer"), nullptr);
    const io::NamedTensor* nbt = f.find("bn1.num_batches_tracked");
    ASSERT_NE(nbt, nullptr);
    EXPECT_EQ(nbt->dtype, io::DType::I64);
    EXPECT_EQ(nbt->values[0], 6.0F);  // 96 / 16 training steps
    EXPECT_EQ(f.metadata.at("epoch"), "1");
    std::filesystem::remove(file);
}

TEST(Trainer, LoadingTheWrongShapeListsEveryMismatch) {
    io::ExperimentConfig c = test::tinyTrainerConfig();
    Trainer small(Experiment::create(c, true), nullptr);
    const auto file = tempFile("shape");
    small.save(file);
    c.model.width = 8;
    Trainer wide(Experiment::create(c, true), nullptr);
    try {
        wide.load(file, false);
        FAIL() << "expected InputError";
    } catch (const InputError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("conv1.weight"), std::string::npos) << msg;
        EXPECT_NE(msg.find("expected [8, 3, 3, 3], found [4, 3, 3, 3]"), std::string::npos) << msg;
        EXPECT_NE(msg.find("fc.weight"), std::string::npos) << msg;
    }
    std::filesystem::remove(file);
}

TEST(Trainer, BadConfigsNameTheKey) {
    io::ExperimentConfig c = test::tinyTrainerConfig();
    c.pipeline.cuts = {3, 5};
    c.pipeline.delays = {1, 3, 0};
    try {
        Experiment::create(c, false);
        FAIL() << "expected InputError";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("non-increasing"), std::string::npos) << e.what();
    }
    c = test::tinyTrainerConfig();
    c.data.dataset = DatasetKind::Cifar10;
    c.data.path = "/nonexistent/cifar";
    EXPECT_THROW(Experiment::create(c, false), InputError);
    c = test::tinyTrainerConfig();
    c.training.batchSize = 1000;
    EXPECT_THROW(Experiment::create(c, false), InputError);
    // In the config's own keys, never the LR schedule's internal field names.
    c = test::tinyTrainerConfig();
    c.schedule.warmupEpochs = 2;
    const std::string msg = lp::test::expectInputError(
        [&] { Experiment::create(c, true); },
        {"'schedule.warmupEpochs' (2 epochs = 12 steps) must be shorter than the run",
         "training.epochs 2 x 6 steps per epoch = 12 steps"});
    EXPECT_EQ(msg.find("lrSchedule"), std::string::npos) << msg;
}

TEST(Trainer, NonFiniteLossStopsTheEpoch) {
    // Divergence made certain on every kernel path and build type: the classifier's weights are
    // set to 3e38 through a checkpoint, so the first forward's logits overflow.
    io::ExperimentConfig c = test::tinyTrainerConfig();
    c.schedule.kind = LrScheduleKind::Constant;
    const auto file = tempFile("diverge");
    {
        Trainer seed(Experiment::create(c, true), nullptr);
        seed.save(file);
        io::SafetensorsFile f = io::readSafetensors(file);
        for (io::NamedTensor& t : f.tensors) {
            if (t.name == "fc.weight") {
                std::fill(t.values.begin(), t.values.end(), 3e38F);
            }
        }
        io::writeSafetensors(file, f);
    }
    telemetry::Recorder recorder(1);
    Trainer t(Experiment::create(c, true), &recorder);
    t.load(file, false);
    std::filesystem::remove(file);
    const EpochReport r = t.runEpoch();
    EXPECT_TRUE(r.nonFinite);
    EXPECT_EQ(t.epoch(), 0);  // not counted, not evaluated
    // A step with a non-finite loss is flagged and counts no correct predictions (argmax over
    // NaN logits would otherwise pick class 0 and score by chance).
    int flagged = 0;
    for (const telemetry::TrainSample& sample : recorder.drain().train) {
        if (sample.nonFinite) {
            ++flagged;
            EXPECT_EQ(sample.accuracy, 0.0F) << "step " << sample.step;
        }
    }
    EXPECT_GE(flagged, 1);
}

TEST(Trainer, TicksIncreaseAcrossEpochs) {
    io::ExperimentConfig c = test::tinyTrainerConfig();
    c.pipeline.cuts = {4, 7};
    c.training.epochs = 3;
    telemetry::Recorder recorder(3);
    Trainer t(Experiment::create(c, false), &recorder);
    const std::int64_t perEpoch = t.ticksPerEpoch();
    // 6 minibatches through K = 3 at the default delays: 6 + 2K − 2 ticks (DESIGN.md section 4).
    EXPECT_EQ(perEpoch, 6 + 4);
    while (!t.finished()) {
        t.runEpoch();
    }
    const std::int64_t steps = t.experiment().stepsPerEpoch;
    std::int64_t maxTick = -1;
    for (const telemetry::OpEvent& e : recorder.drain().ops) {
        const std::int64_t epoch = e.minibatch / steps;
        EXPECT_GE(e.tick, epoch * perEpoch) << "stage " << e.stage << " minibatch " << e.minibatch;
        EXPECT_LT(e.tick, (epoch + 1) * perEpoch) << "stage " << e.stage;
        maxTick = std::max(maxTick, e.tick);
    }
    EXPECT_EQ(maxTick, 3 * perEpoch - 1);
}

TEST(Trainer, SameBitsWithOneTwoAndFourThreads) {
    // Includes the prefetcher and the drain/evaluate between epochs; threads = 1 once hung when
    // the prefetcher was destroyed outside the engine's arena.
    std::vector<std::unique_ptr<Trainer>> trainers;
    for (const std::int64_t threads : {1, 2, 4}) {
        io::ExperimentConfig c = test::tinyTrainerConfig();
        c.pipeline.cuts = {3, 6};
        c.pipeline.policy = WeightPolicy::Ema;
        c.training.threads = threads;
        trainers.push_back(test::trainedToTheEnd(c));
    }
    EXPECT_TRUE(sameWeights(*trainers[0], *trainers[1]));
    EXPECT_TRUE(sameWeights(*trainers[0], *trainers[2]));
}

// With one thread allowed (tbb::global_control, or a single core) the prefetcher's first batch,
// started when the trainer is built, must be runnable inside the engine's arena: runEpoch used to
// wait for it forever.
TEST(Trainer, RunsWithASingleThreadAllowed) {
    const tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
    io::ExperimentConfig c = test::tinyTrainerConfig();
    c.training.epochs = 1;
    c.training.threads = 1;
    c.pipeline.cuts = {5};
    Trainer t(Experiment::create(c, false), nullptr);
    EXPECT_TRUE(t.runEpoch().completed);
}

TEST(Trainer, ShortSyntheticRunLearns) {
    io::ExperimentConfig c =
        test::tinyTrainerConfig({.width = 8, .train = 512, .test = 256, .batch = 32, .epochs = 3});
    c.pipeline.cuts = {5};
    Trainer t(Experiment::create(c, false), nullptr);
    EpochReport r;
    while (!t.finished()) {
        r = t.runEpoch();
    }
    EXPECT_GT(r.test.top1, 0.6);  // chance is 0.1
}

TEST(Session, StepsPausesAndFinishes) {
    io::ExperimentConfig c = test::tinyTrainerConfig();
    c.training.epochs = 1;
    c.pipeline.cuts = {5};
    Session s(c);
    EXPECT_EQ(s.status().state, RunState::Ready);
    s.stepTicks(3);
    for (int i = 0; i < 400 && s.status().tick < 2; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_EQ(s.status().tick, 2);
    s.play();
    for (int i = 0; i < 1000 && s.status().state != RunState::Finished; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_EQ(s.status().state, RunState::Finished);
    const telemetry::TelemetryBatch b = s.drain();
    EXPECT_EQ(b.train.size(), 6U);
    EXPECT_EQ(b.eval.size(), 1U);
    EXPECT_FALSE(b.ops.empty());
    EXPECT_EQ(s.status().history.size(), 1U);
}

TEST(Session, StopMidRunReturnsAtOnce) {
    io::ExperimentConfig c = test::tinyTrainerConfig();
    c.training.epochs = 50;
    c.pipeline.cuts = {3, 6};
    auto s = std::make_unique<Session>(c);
    s->setTicksPerSecond(50);
    s->play();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    s->stop();
    s.reset();  // joins the driver
    SUCCEED();
}

}  // namespace
}  // namespace lp::core::session
