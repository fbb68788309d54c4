// SPDX-License-Identifier: GPL-3.0-or-later
//
// The noise rule (stated in every report): a comparison's difference is within noise when
// |Δ| ≤ 2·sqrt(SE_a² + SE_b²), about a 95 % band. With one seed SE is the binomial standard
// error of the test top-1, sqrt(p(1 − p)/n_test): the test set's sampling noise only, not the
// seed-to-seed spread (which is larger), so "outside noise" with one seed is weak evidence. With
// N ≥ 2 seeds SE = max(s/√N, sqrt(p̄(1 − p̄)/(N·n_test))), s the sample standard deviation over
// seeds: the spread of the mean, never below the test set's own noise.
#include "core/study/study_report.hpp"

#include "core/io/atomic_file.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <locale>
#include <map>
#include <sstream>

namespace lp::core::study {
namespace {

struct Group {
    std::string variant;
    std::string label;
    std::vector<ResultRow> rows;
};

std::ostringstream stream() {
    std::ostringstream os;
    os.imbue(std::locale::classic());
    return os;
}

std::string fixed(double v, int digits) {
    std::ostringstream os = stream();
    os << std::fixed << std::setprecision(digits) << v;
    return os.str();
}

std::string percent(double fraction) {
    return fixed(100.0 * fraction, 2);
}

std::string mebibytes(double bytes) {
    return fixed(bytes / (1024.0 * 1024.0), 2);
}

// Groups the rows by variant in the plan's order.
std::vector<Group> groups(const StudyPlan& plan, const std::vector<ResultRow>& rows) {
    std::vector<Group> out;
    for (const StudyRun& r : plan.runs) {
        const bool known = std::any_of(
            out.begin(), out.end(), [&](const Group& g) { return g.variant == r.variant; });
        if (!known) {
            out.push_back({.variant = r.variant, .label = r.label, .rows = {}});
        }
    }
    for (const ResultRow& row : rows) {
        const std::string v = cell(row, "variant");
        for (Group& g : out) {
            if (g.variant == v) {
                g.rows.push_back(row);
            }
        }
    }
    return out;
}

bool anyRecalibrated(const std::vector<ResultRow>& rows) {
    return std::any_of(rows.begin(), rows.end(), [](const ResultRow& r) {
        return cellNumber(r, "final_recal_top1").has_value();
    });
}

// Mean ± std of a column over the rows that have a finite value; with `accuracy` the standard
// error has the binomial floor of the noise rule (the column is a fraction of test images).
std::optional<Estimate> estimate(const std::vector<ResultRow>& rows,
                                 const std::string& column,
                                 bool accuracy = false) {
    std::vector<double> v;
    double tests = 0.0;
    for (const ResultRow& r : rows) {
        if (const auto x = cellNumber(r, column); x && std::isfinite(*x)) {
            v.push_back(*x);
            tests += cellNumber(r, "test_samples").value_or(0.0);
        }
    }
    if (v.empty()) {
        return std::nullopt;
    }
    Estimate e{.count = static_cast<std::int64_t>(v.size())};
    for (const double x : v) {
        e.mean += x;
    }
    const auto n = static_cast<double>(v.size());
    e.mean /= n;
    for (const double x : v) {
        e.std += (x - e.mean) * (x - e.mean);
    }
    e.std = v.size() > 1 ? std::sqrt(e.std / (n - 1.0)) : 0.0;
    const double binomial =
        accuracy && tests > 0 ? std::sqrt(std::max(e.mean * (1.0 - e.mean), 0.0) / tests) : 0.0;
    e.stdError = std::max(e.std / std::sqrt(n), binomial);
    return e;
}

std::string shown(const std::optional<Estimate>& e, bool seeds, bool asPercent) {
    if (!e) {
        return "–";
    }
    const auto f = [&](double x) {
        return asPercent ? percent(x) : fixed(x, 3);
    };
    return seeds ? f(e->mean) + " ± " + f(e->std) : f(e->mean);
}

std::string divergedText(const Group& g) {
    const auto n = std::count_if(g.rows.begin(), g.rows.end(), [](const ResultRow& r) {
        return cell(r, "diverged") == "yes";
    });
    if (g.rows.size() == 1) {
        return n > 0 ? "**yes**" : "no";
    }
    return n > 0 ? "**" + std::to_string(n) + "/" + std::to_string(g.rows.size()) + "**" : "no";
}

std::string historyText(const Group& g) {
    const auto measured = estimate(g.rows, "history_bytes");
    const auto forecast = estimate(g.rows, "history_forecast_bytes");
    return (measured ? mebibytes(measured->mean) : "–") + " / " +
           (forecast ? mebibytes(forecast->mean) : "–");
}

std::string reconText(const Group& g) {
    const auto mean = estimate(g.rows, "recon_error_mean");
    const auto worst = estimate(g.rows, "recon_error_max");
    if (!mean) {
        return "–";
    }
    std::ostringstream os = stream();
    os << std::setprecision(3) << mean->mean << " / " << (worst ? worst->mean : 0.0);
    return os.str();
}

// "6 4 2 0", or with a delay schedule "6 4 2 0 (epochs: 1 0.5 0.25)": the envelope and the
// scale each epoch ran with (the adaptive rule's choices), to three digits.
std::string delaysText(const ResultRow& row) {
    const std::string sched = cell(row, "delay_schedule");
    if (sched.empty() || sched == "static") {
        return cell(row, "delays");
    }
    std::string scales;
    std::istringstream in(cell(row, "epoch_scales"));
    in.imbue(std::locale::classic());
    for (double c = 0.0; in >> c;) {
        std::ostringstream os = stream();
        os << std::setprecision(3) << c;
        scales += (scales.empty() ? "" : " ") + os.str();
    }
    return cell(row, "delays") + " (" + sched + (scales.empty() ? "" : ": " + scales) + ")";
}

void table(std::ostream& os, const std::vector<Group>& gs, bool seeds, bool recal) {
    os << "| run | policy | K | delays | optimizer | top-1 % |"
       << (recal ? " top-1 % (BN recal.) |" : "")
       << " history MiB (measured / forecast) | utilisation | mean staleness | recon. error "
          "(mean / max) | diverged |\n|---|---|---|---|---|---|"
       << (recal ? "---|" : "") << "---|---|---|---|---|\n";
    for (const Group& g : gs) {
        if (g.rows.empty()) {
            os << "| " << g.label << " | not run yet |||||" << (recal ? "|" : "") << "|||||\n";
            continue;
        }
        const ResultRow& first = g.rows.front();
        const std::string delays = delaysText(first);
        os << "| " << g.label << " | " << cell(first, "policy") << " | " << cell(first, "stages")
           << " | " << delays << " | " << cell(first, "optimizer") << " | "
           << shown(estimate(g.rows, "final_top1"), seeds, true) << " | ";
        if (recal) {
            os << shown(estimate(g.rows, "final_recal_top1"), seeds, true) << " | ";
        }
        os << historyText(g) << " | " << shown(estimate(g.rows, "utilisation"), seeds, false)
           << " | " << shown(estimate(g.rows, "mean_staleness"), seeds, false) << " | "
           << reconText(g) << " | " << divergedText(g) << " |\n";
    }
}

void comparisons(std::ostream& os,
                 const StudyPlan& plan,
                 const std::vector<Group>& gs,
                 bool recal) {
    std::map<std::string, const Group*> byVariant;
    for (const Group& g : gs) {
        byVariant[g.variant] = &g;
    }
    const std::string metric = recal ? "test top-1 after BN recalibration" : "test top-1";
    for (const Comparison& c : plan.comparisons) {
        const Group* a = byVariant[c.variant];
        const Group* b = byVariant[c.baseline];
        if (a == nullptr || b == nullptr || a->rows.empty() || b->rows.empty()) {
            continue;
        }
        os << "- **" << a->label << " vs " << b->label << "**: ";
        const auto ea = top1Estimate(a->rows);
        const auto eb = top1Estimate(b->rows);
        if (!ea || !eb) {
            os << (ea ? b->label : a->label)
               << " diverged (non-finite loss) before its first evaluation; no " << metric
               << " to compare.\n";
            continue;
        }
        const double delta = ea->mean - eb->mean;
        const double band =
            2.0 * std::sqrt(ea->stdError * ea->stdError + eb->stdError * eb->stdError);
        os << metric << " " << percent(ea->mean) << " % vs " << percent(eb->mean) << " % ("
           << (delta >= 0 ? "+" : "−") << fixed(100.0 * std::abs(delta), 2)
           << " points; noise band ±" << fixed(100.0 * band, 2) << "): "
           << (withinNoise(*ea, *eb)
                   ? "within noise."
                   : (delta > 0 ? "better, outside noise." : "worse, outside noise."));
        for (const Group* g : {a, b}) {
            if (divergedText(*g) != "no") {
                os << " " << g->label << " diverged (" << divergedText(*g) << ").";
            }
        }
        os << "\n";
    }
}

void memoryCheck(std::ostream& os, const std::vector<ResultRow>& rows) {
    std::vector<std::string> off;
    for (const ResultRow& r : rows) {
        if (cell(r, "history_bytes") != cell(r, "history_forecast_bytes")) {
            off.push_back(cell(r, "run_id") + " (" + cell(r, "history_bytes") + " B measured, " +
                          cell(r, "history_forecast_bytes") + " B forecast)");
        }
    }
    if (off.empty()) {
        os << "Measured weight-history bytes (peak over the run, summed over stages) equal the "
              "forecast of DESIGN.md section 5 in every run.\n";
        return;
    }
    os << "Measured weight-history bytes differ from the forecast in:";
    for (const std::string& s : off) {
        os << " " << s << ";";
    }
    os << " a run with fewer steps per epoch than its largest delay never fills the stash ring "
          "(docs/study.md).\n";
}

void header(std::ostream& os, const ReportInput& in, const std::vector<Group>& gs) {
    os << "# Study `" << in.plan.preset << "`\n\n" << in.plan.description << "\n\n";
    os << "- Command: `" << in.firstCommand << "`\n";
    if (in.command != in.firstCommand) {
        os << "- Continued with: `" << in.command << "`\n";
    }
    const auto listed = [&](const std::vector<std::string>& items) {
        std::string out;
        for (const std::string& i : items) {
            out += (out.empty() ? "`" : ", `") + i + "`";
        }
        return out;
    };
    if (!in.plan.sets.empty()) {
        os << "- Changed from the preset in every run (--set): " << listed(in.plan.sets) << "\n";
    }
    if (!in.plan.only.empty()) {
        os << "- Runs of the preset selected (--runs): " << listed(in.plan.only) << "\n";
    }
    std::string machine = in.machine;
    for (std::size_t at = machine.find('\n'); at != std::string::npos; at = machine.find('\n')) {
        machine.replace(at, 1, "; ");
    }
    os << "- Machine: " << machine << "\n";
    std::map<std::string, std::string> data;
    for (const ResultRow& r : in.rows) {
        data[cell(r, "dataset")] = cell(r, "test_samples");
    }
    os << "- Data:";
    for (const auto& [name, tests] : data) {
        os << " " << name << " (" << tests << " test images)";
    }
    os << (data.empty() ? " (no run finished yet)" : "") << "."
       << (in.plan.datasetNote.empty() ? "" : " " + in.plan.datasetNote + ".") << "\n";
    const std::size_t seeds =
        gs.empty() ? 1 : in.plan.runs.size() / std::max<std::size_t>(gs.size(), 1);
    os << "- Runs: " << in.rows.size() << " of " << in.plan.runs.size() << " finished"
       << (seeds > 1 ? " (seeds 1.." + std::to_string(seeds) + ")" : "")
       << (in.rows.size() < in.plan.runs.size()
               ? "; run the same command again to continue (finished runs are kept)"
               : "")
       << ". Per-run outputs in runs/<run_id>/, every figure in results.csv.\n\n";
}

}  // namespace

std::optional<Estimate> top1Estimate(const std::vector<ResultRow>& rows) {
    return estimate(rows, anyRecalibrated(rows) ? "final_recal_top1" : "final_top1", true);
}

bool withinNoise(const Estimate& a, const Estimate& b) {
    return std::abs(a.mean - b.mean) <=
           2.0 * std::sqrt(a.stdError * a.stdError + b.stdError * b.stdError);
}

std::string reportMarkdown(const ReportInput& in) {
    const std::vector<Group> gs = groups(in.plan, in.rows);
    const bool seeds = !gs.empty() && in.plan.runs.size() > gs.size();
    const bool recal = anyRecalibrated(in.rows);
    std::ostringstream os = stream();
    header(os, in, gs);
    os << "## Results\n\n";
    table(os, gs, seeds, recal);
    os << "\ntop-1: final test accuracy" << (seeds ? ", mean ± sample std over seeds" : "")
       << (recal ? "; BN recal.: with BatchNorm statistics recomputed under the final weights "
                   "(the plain figure uses statistics gathered under stale weights)"
                 : "")
       << ". History: weight history held (stash ring or EMA buffer), peak. Utilisation: "
          "share of the tick model's op slots doing a forward or backward (bubble = 1 − "
          "utilisation). Staleness: mean versions by which applied gradients were stale. "
          "Recon. error: ‖Ŵ − W_v‖/‖W_v‖ of the EMA or momentum reconstruction against the "
          "diagnostic shadow stash.\n\n## Comparisons\n\n";
    os << "Rule: a difference is within noise when |Δ| ≤ 2·sqrt(SE_a² + SE_b²). "
       << (seeds ? "SE = max(s/√N, sqrt(p̄(1−p̄)/(N·n_test))), s the sample std over N seeds."
                 : "One seed: SE is the binomial standard error of test top-1, "
                   "sqrt(p(1−p)/n_test) — the test set's sampling noise only; seed-to-seed "
                   "spread is larger, so rerun with --seeds N before trusting a small gap.")
       << "\n\n";
    comparisons(os, in.plan, gs, recal);
    os << "\n## Memory\n\n";
    memoryCheck(os, in.rows);
    os << "\n## Charts\n\n";
    if (in.chartsMade) {
        os << "![Test top-1 against weight-history memory](charts/accuracy_vs_memory.png)\n\n"
              "![Test top-1 against bubble](charts/accuracy_vs_bubble.png)\n\n"
              "![Training loss per run](charts/loss_curves.png)\n";
    } else {
        os << "The charts were not made: " << in.chartsNote << "\n";
    }
    return os.str();
}

void writeReport(const std::filesystem::path& dir, const ReportInput& input) {
    io::writeFileAtomically(dir / "report.md", reportMarkdown(input));
}

}  // namespace lp::core::study
