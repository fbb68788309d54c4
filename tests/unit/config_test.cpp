// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/config.hpp"

#include "core/error.hpp"

#include "tests/support/expect_input_error.hpp"
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>

namespace lp::core::io {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using lp::test::expectInputError;

void expectRejected(const std::string& doc, std::initializer_list<std::string> fragments) {
    SCOPED_TRACE(doc);
    expectInputError([&] { parseConfig(json::parse(doc)); }, fragments);
}

// Every field away from its default.
ExperimentConfig everythingSet() {
    ExperimentConfig c;
    c.name = "lesson 3: delays";
    c.description = "stash vs \"ema\"\nsecond line";
    c.model = {.arch = Arch::ResNet34,
               .width = 16,
               .stem = Stem::ImageNet,
               .inputChannels = 1,
               .inputSize = 28,
               .classes = 10};
    c.data = {.dataset = DatasetKind::FashionMnist,
              .path = "/usr/share/datasets/fashion-mnist",
              .augment = false,
              .trainLimit = 1000,
              .testLimit = 200,
              .syntheticTrain = 64,
              .syntheticTest = 32};
    c.optimizer = {.kind = OptimizerKind::AdamW,
                   .lr = 3e-4,
                   .momentum = 0.8,
                   .dampening = 0.1,
                   .nesterov = false,
                   .weightDecay = 0.01,
                   .beta1 = 0.85,
                   .beta2 = 0.995,
                   .eps = 1e-7};
    c.schedule = {.kind = LrScheduleKind::Step,
                  .warmupEpochs = 0.5,
                  .stepEpochs = 7,
                  .gamma = 0.3,
                  .minLr = 1e-5};
    c.training = {.epochs = 12,
                  .batchSize = 64,
                  .seed = 18446744073709551615ULL,
                  .threads = 4,
                  .maxSteps = 9};
    c.pipeline = {.cuts = {3, 6, 12},
                  .delays = {6, 4, 2, 0},
                  .policy = WeightPolicy::Ema,
                  .emaBeta = EmaBetaMode::Fixed,
                  .emaBetaValue = 0.95,
                  .schedule = ScheduleKind::GPipe,
                  .microBatches = 8,
                  .diagnosticStash = true,
                  .telemetry = false};
    c.eval = {.recalibrateBatchNorm = 20};
    return c;
}

TEST(Config, DefaultsParseFromEmptyObject) {
    EXPECT_EQ(parseConfig(json::object()), ExperimentConfig{});
    const ExperimentConfig partial = parseConfig(
        json::parse(R"({"model": {"width": 16}, "training": {"batchSize": 64, "epochs": 3.0}})"));
    ExperimentConfig expected;
    expected.model.width = 16;
    expected.training.batchSize = 64;
    expected.training.epochs = 3;
    EXPECT_EQ(partial, expected);
    validate(ExperimentConfig{});
}

TEST(Config, RoundTripsEveryFieldThroughJson) {
    const ExperimentConfig c = everythingSet();
    const json doc = toJson(c);
    EXPECT_EQ(doc.at("training").at("batchSize"), 64);
    EXPECT_EQ(doc.at("pipeline").at("cuts"), json::parse("[3, 6, 12]"));
    EXPECT_EQ(parseConfig(doc), c);
    EXPECT_EQ(parseConfig(json::parse(doc.dump(4))), c);  // through text, doubles included
    EXPECT_EQ(parseConfig(toJson(ExperimentConfig{})), ExperimentConfig{});
}

TEST(Config, SaveAndLoadRoundTripThroughAFile) {
    const fs::path path = fs::temp_directory_path() / concat("lp_config_", ::getpid(), ".json");
    const ExperimentConfig c = everythingSet();
    saveConfig(path, c);
    EXPECT_EQ(loadConfig(path), c);
    fs::remove(path);
}

TEST(Config, UnknownKeysAreRejectedWithTheAllowedOnes) {
    expectRejected(R"({"model": {"widht": 16}})",
                   {"unknown key 'model.widht'", "(allowed: arch, width, stem, inputChannels"});
    expectRejected(R"({"trainer": {}})",
                   {"unknown key 'trainer'", "allowed: name, description, model, data"});
    expectRejected(R"({"pipeline": {"delay": [0]}})", {"'pipeline.delay'", "delays"});
}

// Issue 14: a lesson preset's "studio" object (the comparison it runs) is the studio's business;
// the experiment parser checks only that it is an object, so the CLI runs the preset as is.
TEST(Config, StudioObjectIsSkipped) {
    const ExperimentConfig c =
        parseConfig(json::parse(R"({"name": "x", "studio": {"compare": ["stash", 3]}})"));
    ExperimentConfig expected;
    expected.name = "x";
    EXPECT_EQ(c, expected);
    EXPECT_FALSE(toJson(c).contains("studio"));
    expectRejected(R"({"studio": ["stash"]})", {"'studio' must be an object, got array"});
    expectRejected(R"({"studios": {}})", {"unknown key 'studios'", "studio)"});
}

TEST(Config, WrongTypesNameTheKeyPath) {
    expectRejected(R"({"training": {"epochs": "3"}})",
                   {"'training.epochs' must be an integer, got string"});
    expectRejected(R"({"training": {"epochs": 2.5}})",
                   {"'training.epochs' must be an integer, got 2.5"});
    expectRejected(R"({"optimizer": {"lr": true}})",
                   {"'optimizer.lr' must be a number, got boolean"});
    expectRejected(R"({"data": {"augment": 1}})", {"'data.augment' must be a boolean, got number"});
    expectRejected(R"({"name": 7})", {"'name' must be a string, got number"});
    expectRejected(R"({"model": [1]})", {"'model' must be an object, got array"});
    expectRejected(R"({"pipeline": {"cuts": [3, "6"]}})",
                   {"'pipeline.cuts[1]' must be an integer, got string"});
    expectRejected(R"({"training": {"seed": -1}})",
                   {"'training.seed' must be a non-negative integer, got -1"});
    expectRejected("[]", {"must be a JSON object, got array"});
}

TEST(Config, OutOfRangeValuesNameTheRange) {
    expectRejected(R"({"optimizer": {"lr": -0.1}})",
                   {"'optimizer.lr' must be in (0, 10], got -0.1"});
    expectRejected(R"({"model": {"width": 0}})", {"'model.width' must be in [1, 256], got 0"});
    expectRejected(R"({"model": {"classes": 1}})",
                   {"'model.classes' must be 0 or in [2, 100000], got 1"});
    expectRejected(R"({"pipeline": {"emaBetaValue": 1.0}})",
                   {"'pipeline.emaBetaValue' must be in [0, 1), got 1"});
    expectRejected(R"({"training": {"batchSize": 18446744073709551615}})",
                   {"'training.batchSize' must be in [1, 4096], got 18446744073709551615"});
    expectRejected(R"({"name": ""})", {"'name' must not be empty"});
}

TEST(Config, BadEnumsListTheAllowedValues) {
    expectRejected(R"({"model": {"arch": "resnet50"}})",
                   {"'model.arch' must be one of resnet10, resnet18, resnet34, got 'resnet50'"});
    expectRejected(R"({"pipeline": {"policy": "Stash"}})",
                   {"'pipeline.policy' must be one of latest, stash, ema, momentum, got 'Stash'"});
    expectRejected(R"({"optimizer": {"kind": "rmsprop"}})",
                   {"'optimizer.kind' must be one of sgd, adam, adamw, lamb, got 'rmsprop'"});
    expectRejected(R"({"data": {"dataset": "imagenet"}})",
                   {"'data.dataset' must be one of auto, cifar100, cifar10, fashion-mnist"});
}

TEST(Config, PipelineRulesExplainThemselves) {
    expectRejected(R"({"pipeline": {"cuts": [6, 3]}})",
                   {"'pipeline.cuts' must be strictly increasing, got [6, 3]"});
    expectRejected(R"({"pipeline": {"cuts": [0]}})",
                   {"'pipeline.cuts[0]' must be in [1, 9] for resnet18"});
    expectRejected(R"({"pipeline": {"cuts": [3, 10]}})",
                   {"'pipeline.cuts' must lie within 1..9 (resnet18 has 10 units"});
    parseConfig(json::parse(R"({"model": {"arch": "resnet34"}, "pipeline": {"cuts": [3, 10]}})"));
    expectRejected(R"({"pipeline": {"cuts": [3, 6], "delays": [4, 0]}})",
                   {"'pipeline.delays' must have one entry per stage (3 stages", "got 2 entries"});
    expectRejected(R"({"pipeline": {"cuts": [3, 6], "delays": [2, 4, 0]}})",
                   {"'pipeline.delays' must be non-increasing", "deadlocks", "[2, 4, 0]"});
    expectRejected(R"({"pipeline": {"cuts": [3], "delays": [2, -1]}})",
                   {"'pipeline.delays[1]' must be in [0, 256], got -1"});
    expectRejected(R"({"pipeline": {"schedule": "gpipe", "microBatches": 16},
                       "training": {"batchSize": 8}})",
                   {"'pipeline.microBatches' must not exceed training.batchSize (8)"});
    const ExperimentConfig ok =
        parseConfig(json::parse(R"({"pipeline": {"cuts": [3, 6, 9], "delays": [8, 6, 4, 0]}})"));
    EXPECT_EQ(ok.pipeline.delays.size(), 4U);
}

TEST(Config, CrossFieldOptimizerRules) {
    expectRejected(R"({"optimizer": {"lr": 0.01}, "schedule": {"minLr": 0.1}})",
                   {"'schedule.minLr' must not exceed optimizer.lr (0.01), got 0.1"});
    expectRejected(R"({"optimizer": {"nesterov": true, "momentum": 0}})",
                   {"'optimizer.nesterov' needs optimizer.momentum > 0"});
    parseConfig(json::parse(R"({"optimizer": {"nesterov": true}})"));
}

// Issue 14: the momentum policy and LAMB are accepted; momentum needs optimizer state to rewind.
TEST(Config, MomentumPolicyAndLambAreAcceptedWhereTheyCanWork) {
    const ExperimentConfig c = parseConfig(
        json::parse(R"({"pipeline": {"policy": "momentum"}, "optimizer": {"kind": "lamb"}})"));
    EXPECT_EQ(c.pipeline.policy, WeightPolicy::Momentum);
    EXPECT_EQ(c.optimizer.kind, OptimizerKind::Lamb);
    parseConfig(json::parse(R"({"pipeline": {"policy": "momentum"}})"));  // SGD, momentum 0.9
    parseConfig(json::parse(
        R"({"pipeline": {"policy": "momentum"}, "optimizer": {"kind": "adam", "momentum": 0}})"));
    expectRejected(R"({"pipeline": {"policy": "momentum"}, "optimizer": {"momentum": 0}})",
                   {"'pipeline.policy' momentum needs optimizer.momentum > 0",
                    "got optimizer.momentum = 0",
                    "stash, ema or latest"});
    ExperimentConfig o;
    applyOverride(o, "pipeline.policy", "momentum");
    applyOverride(o, "optimizer.kind", "lamb");
    EXPECT_EQ(o.pipeline.policy, WeightPolicy::Momentum);
    EXPECT_EQ(o.optimizer.kind, OptimizerKind::Lamb);
}

// Issue 13: BN recalibration's key, its range and its rule, in a document and as an override.
TEST(Config, RecalibrateBatchNormNamesItsRangeAndNeedsBatchNorm) {
    EXPECT_EQ(parseConfig(json::parse(R"({"eval": {"recalibrateBatchNorm": 50}})"))
                  .eval.recalibrateBatchNorm,
              50);
    expectRejected(R"({"eval": {"recalibrateBatchNorm": -1}})",
                   {"'eval.recalibrateBatchNorm' must be in [0, 10000], got -1"});
    expectRejected(R"({"eval": {"recalibrateBatchNorm": 10001}})",
                   {"'eval.recalibrateBatchNorm' must be in [0, 10000], got 10001"});
    expectRejected(R"({"eval": {"recalibrateBatchNorm": 2.5}})",
                   {"'eval.recalibrateBatchNorm' must be an integer, got 2.5"});
    expectRejected(R"({"eval": {"recalibrate": 5}})",
                   {"unknown key 'eval.recalibrate'", "(allowed: recalibrateBatchNorm)"});
    expectRejected(R"({"model": {"norm": "none"}, "eval": {"recalibrateBatchNorm": 5}})",
                   {"'eval.recalibrateBatchNorm'", "needs model.norm = batch", "got 5"});
    parseConfig(json::parse(R"({"model": {"norm": "none"}, "eval": {"recalibrateBatchNorm": 0}})"));
    EXPECT_EQ(toJson(ExperimentConfig{}).at("eval").at("recalibrateBatchNorm"), 0);

    ExperimentConfig c;
    applyOverride(c, "eval.recalibrateBatchNorm", "20");
    EXPECT_EQ(c.eval.recalibrateBatchNorm, 20);
    expectInputError([&] { applyOverride(c, "eval.recalibrateBatchNorm", "-3"); },
                     {"'eval.recalibrateBatchNorm' must be in [0, 10000], got -3"});
    expectInputError([&] { applyOverride(c, "eval.recalibrateBatchNorm", "lots"); },
                     {"'eval.recalibrateBatchNorm' must be an integer, got 'lots'"});
    EXPECT_EQ(c.eval.recalibrateBatchNorm, 20);
    expectInputError(
        [&] { applyOverride(c, "eval", "3"); },
        {"'eval' is a section; set one of its keys, e.g. 'eval.recalibrateBatchNorm'"});
}

// An integer beyond int64 in a list without a range of its own is refused with the whole int64
// range in the message (found by fuzz_config: the message's upper bound, 2^63, was cast to int64).
TEST(Config, AnIntegerBeyondInt64IsRefusedWithTheRange) {
    ExperimentConfig c;
    expectInputError(
        [&] { applyOverride(c, "pipeline.delays", "[1e40]"); },
        {"'pipeline.delays[0]'", "[-9223372036854775808, 9223372036854775808)", "got 1e+40"});
}

TEST(Config, LoadConfigNamesTheFileAndPosition) {
    const fs::path path = fs::temp_directory_path() / concat("lp_config_bad_", ::getpid(), ".json");
    const auto writeText = [&](const std::string& text) {
        std::ofstream(path) << text;
    };

    writeText("{\n  \"model\": {\n    \"width\": 16,\n  }\n}\n");
    expectInputError([&] { loadConfig(path); }, {path.string(), "invalid JSON", "line 4"});

    writeText(R"({"training": {"epochs": 3, "epochs": 5}})");
    expectInputError([&] { loadConfig(path); }, {path.string(), "duplicate key 'training.epochs'"});

    writeText(R"({"training": {"epochs": 0}})");
    expectInputError([&] { loadConfig(path); },
                     {path.string(), "'training.epochs' must be in [1, 10000], got 0"});
    fs::remove(path);

    expectInputError([&] { loadConfig(path); }, {path.string(), "No such file or directory"});
}

// Issue 12: a device, a FIFO, a huge file and numbers beyond double's range are refused up
// front with a message, never read forever or reported as an internal error.
TEST(Config, LoadConfigReadsOnlyBoundedRegularFiles) {
    expectInputError([] { loadConfig("/dev/zero"); }, {"/dev/zero", "not a regular file"});
    const fs::path fifo = fs::temp_directory_path() / concat("lp_config_fifo_", ::getpid());
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    expectInputError([&] { loadConfig(fifo); }, {fifo.string(), "not a regular file"});
    fs::remove(fifo);

    const fs::path big = fs::temp_directory_path() / concat("lp_config_big_", ::getpid(), ".json");
    {
        std::ofstream out(big);
        out << "{\"description\": \"";
        out << std::string(17U * 1024U * 1024U, 'x') << "\"}";
    }
    expectInputError([&] { loadConfig(big); }, {big.string(), "at most 16 MiB"});
    std::ofstream(big) << R"({"optimizer": {"lr": 1e400}})";
    expectInputError([&] { loadConfig(big); }, {big.string(), "invalid JSON", "1e400"});
    fs::remove(big);
}

TEST(Config, CutOutOfRangeNamesTheArchitecturesLimit) {
    ExperimentConfig c;
    expectInputError([&] { applyOverride(c, "pipeline.cuts", "0,3"); },
                     {"'pipeline.cuts[0]' must be in [1, 9] for resnet18", "got 0"});
    c.model.arch = Arch::ResNet34;
    expectInputError([&] { applyOverride(c, "pipeline.cuts", "3,18"); },
                     {"'pipeline.cuts[1]' must be in [1, 17] for resnet34", "got 18"});
}

TEST(Config, StringsMustBeUtf8AndSmall) {
    ExperimentConfig c;
    expectInputError([&] { applyOverride(c, "name", "caf\xE9"); },
                     {"'name' is not valid UTF-8", "byte 4"});
    expectInputError([&] { applyOverride(c, "data.path", "/data/\xC0\xAF"); },
                     {"'data.path' is not valid UTF-8"});
    EXPECT_EQ(c.name, "experiment");  // unchanged after a refusal
    applyOverride(c, "name", "caf\xC3\xA9 \xE2\x86\x92 \xF0\x9F\x9A\x80");  // é → 🚀
    expectInputError([&] { applyOverride(c, "description", std::string(70000, 'a')); },
                     {"'description' is 70000 bytes long", "at most 65536"});
    c.description = "\xED\xA0\x80";  // a UTF-16 surrogate, not UTF-8
    expectInputError([&] { validate(c); }, {"'description' is not valid UTF-8"});
}

TEST(Config, ApplyOverrideSetsOneFieldWithTheSameChecks) {
    ExperimentConfig c;
    applyOverride(c, "training.epochs", "3");
    applyOverride(c, "optimizer.lr", " 0.05 ");
    applyOverride(c, "data.augment", "false");
    applyOverride(c, "training.seed", "18446744073709551615");
    applyOverride(c, "pipeline.cuts", "3,6");
    applyOverride(c, "pipeline.delays", "[4, 2, 0]");
    applyOverride(c, "name", "quick");
    applyOverride(c, "pipeline.policy", "ema");
    EXPECT_EQ(c.training.epochs, 3);
    EXPECT_EQ(c.optimizer.lr, 0.05);
    EXPECT_FALSE(c.data.augment);
    EXPECT_EQ(c.training.seed, 18446744073709551615ULL);
    EXPECT_EQ(c.pipeline.cuts, (std::vector<std::int64_t>{3, 6}));
    EXPECT_EQ(c.pipeline.delays, (std::vector<std::int64_t>{4, 2, 0}));
    EXPECT_EQ(c.name, "quick");
    validate(c);
    applyOverride(c, "pipeline.delays", "");
    EXPECT_TRUE(c.pipeline.delays.empty());

    const ExperimentConfig before = c;

    struct Rejected {
        const char* key;
        const char* value;
        std::vector<std::string> says;  // fragments of the message
    };

    const std::vector<Rejected> rejected{
        {"training.epoch", "3", {"unknown key 'training.epoch'", "allowed: epochs, batchSize"}},
        {"trainin.epochs", "3", {"unknown key 'trainin.epochs'"}},
        {"training", "3", {"'training' is a section"}},
        {"training.epochs", "three", {"'training.epochs' must be an integer, got 'three'"}},
        {"training.epochs", "0", {"'training.epochs' must be in [1, 10000], got 0"}},
        {"optimizer.lr", "nan", {"'optimizer.lr' must be a number, got 'nan'"}},
        {"data.augment", "yes please", {"'data.augment' must be true or false"}},
        {"model.arch",
         "vgg",
         {"'model.arch' must be one of resnet10, resnet18, resnet34, got 'vgg'"}},
        {"pipeline.cuts", "3,", {"'pipeline.cuts' must be a list of integers, e.g. 3,6, got '3,'"}},
        {"pipeline.cuts", "3,x", {"'pipeline.cuts'"}},
        {"pipeline.cuts", "[3, 2.5]", {"'pipeline.cuts[1]' must be an integer, got 2.5"}},
        {"pipeline.delays", "0,2", {"'pipeline.delays' must be non-increasing"}},
    };
    for (const Rejected& r : rejected) {
        SCOPED_TRACE(std::string(r.key) + " = " + r.value);
        expectInputError([&] { applyOverride(c, r.key, r.value); }, r.says);
    }
    EXPECT_EQ(c, before);  // every rejected override left the config as it was
}

TEST(Config, ParseConfigTextReadsADocumentFromMemory) {
    EXPECT_EQ(parseConfigText(toJson(everythingSet()).dump()), everythingSet());
    EXPECT_EQ(parseConfigText("{}"), ExperimentConfig{});
    expectInputError([] { parseConfigText("{\n  \"training\": {\"epochs\": }\n}"); },
                     {"invalid JSON", "line 2"});
    expectInputError([] { parseConfigText(R"({"training": {"epochs": 2, "epochs": 3}})"); },
                     {"duplicate key 'training.epochs'"});
    expectInputError([] { parseConfigText(R"({"training": {"epochs": 0}})"); },
                     {"'training.epochs' must be in [1, 10000], got 0"});
}

// Issue 12, found by fuzzing (tests/fuzz/fuzz_config.cpp): a number beyond double's range in a
// `--set` value escaped applyOverride as nlohmann's out_of_range (the CLI's catch of InputError
// missed it). Now the field's range or type is named and the config is left unchanged.
TEST(Config, NumbersBeyondDoubleRangeAreInputErrors) {
    ExperimentConfig c;
    expectInputError([&] { applyOverride(c, "optimizer.lr", "1e400"); },
                     {"'optimizer.lr' must be in (0, 10], got '1e400'"});
    expectInputError([&] { applyOverride(c, "training.epochs", "-1e400"); },
                     {"'training.epochs' must be in [1, 10000], got '-1e400'"});
    expectInputError([&] { applyOverride(c, "training.seed", "1e400"); },
                     {"'training.seed' must be a non-negative integer, got '1e400'"});
    expectInputError([&] { applyOverride(c, "pipeline.cuts", "3,1e999"); },
                     {"'pipeline.cuts' must be in [1, ", "got '3,1e999'"});
    EXPECT_EQ(c, ExperimentConfig{});
    expectInputError([] { parseConfigText(R"({"optimizer": {"lr": 1e400}})"); },
                     {"invalid JSON", "1e400", "double's range"});
}

}  // namespace
}  // namespace lp::core::io
