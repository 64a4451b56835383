// The test runner's main(): Catch2 v2 defines it here; v3 links it from Catch2::Catch2WithMain.
#if !defined(ACT_EDGE_CATCH2_MAJOR) || ACT_EDGE_CATCH2_MAJOR < 3
#define CATCH_CONFIG_MAIN
#endif
#include "catch_compat.hpp"
