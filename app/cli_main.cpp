// layerpipe: the command-line twin of LayerPipe Studio. Wiring only; the work lives in lp::core.
// SPDX-License-Identifier: GPL-3.0-or-later
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "core/error.hpp"

int main(int argc, char** argv) {
    CLI::App app{"layerpipe — pipelined backpropagation for ResNet-18 (LayerPipe Studio's CLI)"};
    app.set_version_flag("--version", std::string("layerpipe ") + LP_VERSION);
    app.require_subcommand(0, 1);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        if (app.get_subcommands().empty()) {
            std::cout << app.help();
        }
    } catch (const lp::core::InputError& e) {
        std::cerr << "layerpipe: " << e.what() << '\n';
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "layerpipe: internal error: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
