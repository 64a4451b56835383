// Self-contained SHA-256 (FIPS 180-4), so the runtime needs no OpenSSL.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace act_edge {

class Sha256 {
public:
    Sha256() noexcept { reset(); }
    void reset() noexcept;
    void update(const void* data, std::size_t len) noexcept;
    std::array<std::uint8_t, 32> digest() noexcept;  // finalizes; call reset() to reuse
    std::string hexdigest() noexcept;

private:
    void block(const std::uint8_t* p) noexcept;
    std::uint32_t h_[8];
    std::uint8_t buf_[64];
    std::size_t buf_len_ = 0;
    std::uint64_t total_ = 0;
};

std::string sha256_hex(std::string_view data);
// Hex digest of a file's bytes; throws BundleError if it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace act_edge
