// The experiment vocabulary (issue 16): one name table per choice, ranges owned once by the
// module and asked by the config, and one rule for a delay vector.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/choices.hpp"

#include "core/error.hpp"
#include "core/io/config.hpp"
#include "core/optim/optimizer.hpp"
#include "core/pipeline/plan.hpp"

#include "tests/support/expect_input_error.hpp"
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

namespace lp::core {
namespace {

using lp::test::expectInputError;

// Every value's name reads back to the value, names are distinct and lower case, and any other
// text (an upper-case name, a blank, a typo) is refused.
template <ChoiceEnum E>
void expectRoundTrip(std::string_view allowed) {
    std::set<std::string_view> names;
    for (const E v : choiceValues<E>()) {
        const std::string_view name = choiceName(v);
        SCOPED_TRACE(std::string(name));
        EXPECT_EQ(parseChoice<E>(name), v);
        EXPECT_TRUE(names.insert(name).second) << "duplicate name";
        EXPECT_FALSE(choiceLabel(v).empty());
        for (const char c : name) {
            EXPECT_FALSE(c >= 'A' && c <= 'Z') << "names are lower case";
        }
        std::string upper(name);
        upper[0] = static_cast<char>(upper[0] - 'a' + 'A');
        EXPECT_EQ(parseChoice<E>(upper), std::nullopt);
    }
    EXPECT_EQ(names.size(), choices<E>().size());
    EXPECT_EQ(parseChoice<E>(""), std::nullopt);
    EXPECT_EQ(parseChoice<E>("bogus"), std::nullopt);
    EXPECT_EQ(allowedChoices<E>(), allowed);
    EXPECT_EQ(choiceName(static_cast<E>(99)), "?");
    EXPECT_EQ(findChoice(static_cast<E>(99)), nullptr);
}

TEST(Choices, EveryTableRoundTripsAndListsItsNames) {
    expectRoundTrip<WeightPolicy>("latest | stash | ema | momentum");
    expectRoundTrip<EmaBetaMode>("window | plain | fixed");
    expectRoundTrip<ScheduleKind>("layerpipe | gpipe");
    expectRoundTrip<DelayScheduleKind>("static | epochs | adaptive");
    expectRoundTrip<OptimizerKind>("sgd | adam | adamw | lamb");
    expectRoundTrip<LrScheduleKind>("constant | step | cosine");
    expectRoundTrip<DatasetKind>("auto | cifar100 | cifar10 | fashion-mnist | mnist | synthetic");
    expectRoundTrip<Arch>("resnet10 | resnet18 | resnet34");
    expectRoundTrip<Stem>("cifar | imagenet");
    expectRoundTrip<Norm>("batch | none");
    EXPECT_EQ(allowedChoices<WeightPolicy>(", "), "latest, stash, ema, momentum");
}

TEST(Choices, LabelsAreTheStudiosWordsAndFallBackToTheName) {
    EXPECT_EQ(choiceLabel(WeightPolicy::Ema), "EMA reconstruction (LayerPipe2)");
    EXPECT_EQ(choiceLabel(DatasetKind::FashionMnist), "Fashion-MNIST");
    EXPECT_EQ(choiceLabel(Arch::ResNet34), "ResNet-34 (18 units)");
    EXPECT_EQ(choiceLabel(LrScheduleKind::Cosine), "cosine");  // no label: the name
}

// The config reads, writes and overrides every choice field through the same table, and an
// unknown name is refused with the table's list.
template <ChoiceEnum E>
void expectConfigField(const std::string& key, E (*get)(const io::ExperimentConfig&)) {
    for (const E v : choiceValues<E>()) {
        io::ExperimentConfig c;
        io::applyOverride(c, key, choiceName(v));
        EXPECT_EQ(get(c), v) << key;
        const nlohmann::json doc = io::toJson(c);
        const auto dot = key.find('.');
        EXPECT_EQ(doc.at(key.substr(0, dot)).at(key.substr(dot + 1)), choiceName(v)) << key;
    }
    io::ExperimentConfig c;
    expectInputError([&] { io::applyOverride(c, key, "Bogus"); },
                     {"'" + key + "' must be one of " + allowedChoices<E>(", ") + ", got 'Bogus'"});
}

TEST(Choices, TheConfigSpellsEveryChoiceByItsTable) {
    using C = io::ExperimentConfig;
    expectConfigField<Arch>("model.arch", [](const C& c) { return c.model.arch; });
    expectConfigField<Stem>("model.stem", [](const C& c) { return c.model.stem; });
    expectConfigField<Norm>("model.norm", [](const C& c) { return c.model.norm; });
    expectConfigField<DatasetKind>("data.dataset", [](const C& c) { return c.data.dataset; });
    expectConfigField<OptimizerKind>("optimizer.kind", [](const C& c) { return c.optimizer.kind; });
    expectConfigField<LrScheduleKind>("schedule.kind", [](const C& c) { return c.schedule.kind; });
    expectConfigField<WeightPolicy>("pipeline.policy",
                                    [](const C& c) { return c.pipeline.policy; });
    expectConfigField<EmaBetaMode>("pipeline.emaBeta",
                                   [](const C& c) { return c.pipeline.emaBeta; });
    expectConfigField<ScheduleKind>("pipeline.schedule",
                                    [](const C& c) { return c.pipeline.schedule; });
    expectConfigField<DelayScheduleKind>("pipeline.delaySchedule",
                                         [](const C& c) { return c.pipeline.delaySchedule; });
}

TEST(Interval, ContainsAndSaysItsEnds) {
    constexpr Interval open{'(', 0, 10, ']'};
    static_assert(!open.contains(0) && open.contains(10) && open.contains(1e-9));
    EXPECT_FALSE(open.contains(std::nan("")));
    EXPECT_EQ(open.text(), "in (0, 10]");
    constexpr Interval orZero{'[', 2, 100000, ']', true};
    static_assert(orZero.contains(0) && !orZero.contains(1) && orZero.contains(2));
    EXPECT_EQ(orZero.text(true), "0 or in [2, 100000]");
}

// Issue 16: optimizer.weightDecay = 1 passed the config ([0, 1]) and then threw in the
// optimizer ([0, 1)); dampening was the other way round. The config now asks the optimizer's
// ranges: a value is refused by both layers or by neither, and the config names the key path.
TEST(Ranges, ConfigAndOptimizerAgreeOnEveryHyperParameter) {
    struct Field {
        const char* key;
        double io::OptimizerSection::*member;
        const Interval& range;
    };

    const std::vector<Field> fields{
        {"momentum", &io::OptimizerSection::momentum, optim::kMomentumRange},
        {"dampening", &io::OptimizerSection::dampening, optim::kDampeningRange},
        {"weightDecay", &io::OptimizerSection::weightDecay, optim::kWeightDecayRange},
        {"beta1", &io::OptimizerSection::beta1, optim::kBetaRange},
        {"beta2", &io::OptimizerSection::beta2, optim::kBetaRange},
        {"eps", &io::OptimizerSection::eps, optim::kEpsRange},
    };
    for (const Field& f : fields) {
        for (const double v : {-0.5, 0.0, 0.5, 0.99999999999, 1.0, 1.5}) {
            SCOPED_TRACE(std::string(f.key) + " = " + std::to_string(v));
            io::ExperimentConfig c;
            c.optimizer.*f.member = v;
            bool moduleOk = true;
            try {
                optim::validate(io::optimizerConfig(c.optimizer));
            } catch (const InputError& e) {
                moduleOk = false;
                EXPECT_NE(std::string(e.what()).find(f.range.text()), std::string::npos)
                    << e.what();
            }
            bool configOk = true;
            try {
                io::validate(c);
            } catch (const InputError& e) {
                configOk = false;
                const std::string what = e.what();
                EXPECT_NE(what.find(std::string("optimizer.") + f.key), std::string::npos) << what;
                EXPECT_NE(what.find(f.range.text()), std::string::npos) << what;
            }
            EXPECT_EQ(configOk, moduleOk);
        }
    }
    io::ExperimentConfig c;
    expectInputError([&] { io::applyOverride(c, "optimizer.weightDecay", "1"); },
                     {"'optimizer.weightDecay' must be in [0, 1), got 1"});
    io::applyOverride(c, "optimizer.dampening", "1");  // torch.optim.SGD allows it
    EXPECT_NO_THROW(io::validate(c));
    EXPECT_NO_THROW(optim::validate(io::optimizerConfig(c.optimizer)));
}

// The delay vector has one rule (core::delaysProblem); the config, DelayPlan and the studio's
// forecast all report its words.
TEST(Delays, OneRuleEveryLayerReports) {
    using Delays = std::vector<std::int64_t>;
    EXPECT_EQ(delaysProblem(Delays{6, 4, 2, 0}, 4), "");
    EXPECT_EQ(delaysProblem(Delays{8, 8, 1, 1}, -1), "");
    EXPECT_NE(delaysProblem(Delays{2, 4, 0}, 3).find("non-increasing"), std::string::npos);
    EXPECT_NE(delaysProblem(Delays{2, 4, 0}, 3).find("deadlocks"), std::string::npos);
    EXPECT_EQ(delaysProblem(Delays{2, -1}, 2, "pipeline.delays"),
              "'pipeline.delays[1]' must be in [0, 256], got -1");
    EXPECT_EQ(delaysProblem(Delays{257, 0}, 2), "'delays[0]' must be in [0, 256], got 257");
    EXPECT_EQ(delaysProblem(Delays{4, 0}, 3, "pipeline.delays"),
              "'pipeline.delays' must have one entry per stage (3 stages), got 2 entries [4, 0]");

    for (const Delays& bad : {Delays{2, 4, 0}, Delays{2, 1, -1}, Delays{300, 2, 0}}) {
        const std::string why = delaysProblem(bad, 3);
        SCOPED_TRACE(why);
        expectInputError([&] { pipeline::DelayPlan::custom(3, bad); }, {why});
        io::ExperimentConfig c;
        c.pipeline.cuts = {3, 6};
        c.pipeline.delays = bad;
        expectInputError([&] { io::validate(c); }, {delaysProblem(bad, 3, "pipeline.delays")});
    }
}

}  // namespace
}  // namespace lp::core
