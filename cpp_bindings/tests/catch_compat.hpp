// Catch2 v2 or v3, as CMakeLists.txt found it (ACT_EDGE_CATCH2_MAJOR): the test sources include this.
#pragma once

#if defined(ACT_EDGE_CATCH2_MAJOR) && ACT_EDGE_CATCH2_MAJOR >= 3
#include <catch2/catch_all.hpp>
using Catch::Approx;  // v2 put Approx in the global namespace
#else
#include <catch2/catch.hpp>
#endif
