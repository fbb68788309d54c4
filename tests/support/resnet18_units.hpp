// The ten pipeline units of ResNet-18 by their torchvision names, stem to head: what the model
// tests expect and what the chart tests' synthetic layouts name their units. Constant data.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <string>
#include <vector>

namespace lp::test {

inline const std::vector<std::string>& resnet18UnitNames() {
    static const std::vector<std::string> names{"stem",
                                                "layer1.0",
                                                "layer1.1",
                                                "layer2.0",
                                                "layer2.1",
                                                "layer3.0",
                                                "layer3.1",
                                                "layer4.0",
                                                "layer4.1",
                                                "head"};
    return names;
}

}  // namespace lp::test
