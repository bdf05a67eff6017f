// File: cmake/pch/cosched_test_pch.h
// cosched_pch.h plus GoogleTest and GoogleMock, which every test file parses.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cmake/pch/cosched_pch.h"
