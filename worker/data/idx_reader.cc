// File: worker/data/idx_reader.cc
// IDX reading over zlib's gz* API (which also reads plain files), in 1 MiB chunks converted
// straight into the output vectors, so the 60000 x 784 training set is decompressed and
// converted in one pass without a second full-size byte buffer.
#include "worker/data/idx_reader.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"

namespace cosched::worker {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dims
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dim
constexpr size_t kChunkBytes = size_t{1} << 20;
// Upper bound on what is reserved up front from a header's claim, so that a corrupt header
// cannot make us allocate more than this before the data actually arrives.
constexpr size_t kMaxReserveElements = size_t{1} << 26;

// An open gz (or plain) file; closes it on destruction.
class GzReader {
 public:
  static absl::StatusOr<GzReader> Open(const std::string& path) {
    errno = 0;
    gzFile file = gzopen(path.c_str(), "rb");
    if (file == nullptr) {
      return absl::ErrnoToStatus(errno == 0 ? ENOMEM : errno, absl::StrCat(path, ": cannot open"));
    }
    gzbuffer(file, 1 << 18);  // Larger than the 8 KiB default: fewer read() calls.
    return GzReader(path, file);
  }

  GzReader(GzReader&& other) noexcept
      : path_(std::move(other.path_)), file_(std::exchange(other.file_, nullptr)) {}
  GzReader& operator=(GzReader&&) = delete;
  GzReader(const GzReader&) = delete;
  ~GzReader() {
    if (file_ != nullptr) gzclose(file_);
  }

  const std::string& path() const { return path_; }

  // Reads up to `n` bytes into `buf`; returns how many were read, fewer than `n` only at the
  // end of the data (a truncated gzip stream also ends the data; see EndNote()).
  absl::StatusOr<size_t> Read(void* buf, size_t n) {
    auto* out = static_cast<unsigned char*>(buf);
    size_t total = 0;
    while (total < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - total, 1u << 30));
      const int got = gzread(file_, out + total, chunk);
      if (got < 0) {
        int errnum = Z_OK;
        const char* message = gzerror(file_, &errnum);
        return absl::DataLossError(absl::StrCat(path_, ": read error: ", message));
      }
      if (got == 0) break;
      total += static_cast<size_t>(got);
    }
    return total;
  }

  // After a short read: " (gzip stream truncated: ...)" if zlib saw a cut-off stream.
  std::string EndNote() {
    int errnum = Z_OK;
    const char* message = gzerror(file_, &errnum);
    if (errnum == Z_OK) return "";
    return absl::StrCat(" (", errnum == Z_BUF_ERROR ? "gzip stream truncated: " : "", message, ")");
  }

  // Reads exactly `n` bytes of `what` or fails with "expected N bytes, got M".
  absl::Status ReadExactly(void* buf, size_t n, absl::string_view what) {
    ASSIGN_OR_RETURN(const size_t got, Read(buf, n));
    if (got == n) return absl::OkStatus();
    return absl::DataLossError(absl::StrCat(path_, ": truncated ", what, ": expected ", n,
                                            " bytes, got ", got, EndNote()));
  }

  // Fails if anything follows the payload; counts the extra bytes for the message.
  absl::Status ExpectEnd(uint64_t payload_bytes) {
    std::array<unsigned char, 1 << 16> scratch;
    uint64_t extra = 0;
    while (true) {
      ASSIGN_OR_RETURN(const size_t got, Read(scratch.data(), scratch.size()));
      if (got == 0) break;
      extra += got;
    }
    if (extra == 0) return absl::OkStatus();
    return absl::DataLossError(absl::StrCat(path_, ": ", extra, " trailing bytes after the ",
                                            payload_bytes, "-byte payload"));
  }

 private:
  GzReader(std::string path, gzFile file) : path_(std::move(path)), file_(file) {}

  std::string path_;
  gzFile file_;
};

uint32_t BigEndian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Reads the magic and `dims.size()` dimensions; `kind` names the expected file kind.
absl::Status ReadHeader(GzReader& reader, uint32_t expected_magic, absl::string_view kind,
                        std::vector<uint32_t>& dims) {
  unsigned char magic_bytes[4];
  ASSIGN_OR_RETURN(const size_t got, reader.Read(magic_bytes, sizeof(magic_bytes)));
  if (got == 0) {
    return absl::DataLossError(absl::StrCat(reader.path(), ": file is empty", reader.EndNote()));
  }
  if (got < sizeof(magic_bytes)) {
    return absl::DataLossError(absl::StrCat(reader.path(), ": truncated header: expected ",
                                            sizeof(magic_bytes), " bytes, got ", got,
                                            reader.EndNote()));
  }
  const uint32_t magic = BigEndian32(magic_bytes);
  if (magic != expected_magic) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: bad magic 0x%08x, expected 0x%08x (%s)",
                                                      reader.path(), magic, expected_magic, kind));
  }
  std::vector<unsigned char> dim_bytes(4 * dims.size());
  RETURN_IF_ERROR(reader.ReadExactly(dim_bytes.data(), dim_bytes.size(), "header"));
  for (size_t i = 0; i < dims.size(); ++i) dims[i] = BigEndian32(&dim_bytes[4 * i]);
  return absl::OkStatus();
}

// Reads `count` payload bytes, handing each chunk to `sink(const unsigned char*, size_t)`.
template <typename Sink>
absl::Status ReadPayload(GzReader& reader, uint64_t count, Sink sink) {
  std::vector<unsigned char> chunk(static_cast<size_t>(std::min<uint64_t>(count, kChunkBytes)));
  uint64_t done = 0;
  while (done < count) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(count - done, chunk.size()));
    ASSIGN_OR_RETURN(const size_t got, reader.Read(chunk.data(), want));
    if (got > 0) sink(chunk.data(), got);
    done += got;
    if (got < want) {
      return absl::DataLossError(absl::StrCat(reader.path(), ": truncated payload: expected ",
                                              count, " bytes, got ", done, reader.EndNote()));
    }
  }
  return reader.ExpectEnd(count);
}

}  // namespace

absl::StatusOr<LabeledImages> ReadIdxPair(const std::string& images_path,
                                          const std::string& labels_path) {
  ASSIGN_OR_RETURN(GzReader images, GzReader::Open(images_path));
  ASSIGN_OR_RETURN(GzReader labels, GzReader::Open(labels_path));

  std::vector<uint32_t> image_dims(3);
  RETURN_IF_ERROR(ReadHeader(images, kImagesMagic, "IDX images", image_dims));
  const uint32_t num_images = image_dims[0];
  for (int d = 1; d <= 2; ++d) {
    if (image_dims[d] == 0 || image_dims[d] > static_cast<uint32_t>(kIdxMaxSide)) {
      return absl::InvalidArgumentError(absl::StrCat(images_path, ": image ",
                                                     d == 1 ? "rows" : "cols", " = ", image_dims[d],
                                                     ", must be in [1, ", kIdxMaxSide, "]"));
    }
  }
  std::vector<uint32_t> label_dims(1);
  RETURN_IF_ERROR(ReadHeader(labels, kLabelsMagic, "IDX labels", label_dims));
  const uint32_t num_labels = label_dims[0];
  if (num_images != num_labels) {
    return absl::InvalidArgumentError(absl::StrCat(images_path, " has ", num_images, " images but ",
                                                   labels_path, " has ", num_labels, " labels"));
  }

  LabeledImages out;
  out.rows = static_cast<int>(image_dims[1]);
  out.cols = static_cast<int>(image_dims[2]);
  const uint64_t pixel_count = uint64_t{num_images} * image_dims[1] * image_dims[2];

  std::array<float, 256> to_float;
  for (int b = 0; b < 256; ++b) to_float[b] = static_cast<float>(b) / 255.0f;
  out.pixels.reserve(static_cast<size_t>(std::min<uint64_t>(pixel_count, kMaxReserveElements)));
  RETURN_IF_ERROR(ReadPayload(images, pixel_count, [&](const unsigned char* p, size_t n) {
    const size_t old_size = out.pixels.size();
    out.pixels.resize(old_size + n);
    float* dst = out.pixels.data() + old_size;
    for (size_t i = 0; i < n; ++i) dst[i] = to_float[p[i]];
  }));

  out.labels.reserve(std::min<size_t>(num_labels, kMaxReserveElements));
  RETURN_IF_ERROR(ReadPayload(labels, num_labels, [&](const unsigned char* p, size_t n) {
    out.labels.insert(out.labels.end(), p, p + n);
  }));
  for (size_t i = 0; i < out.labels.size(); ++i) {
    if (out.labels[i] >= kIdxMaxClasses) {
      return absl::InvalidArgumentError(absl::StrCat(labels_path, ": label ", int{out.labels[i]},
                                                     " at index ", i, " is out of range [0, ",
                                                     kIdxMaxClasses, ")"));
    }
  }
  return out;
}

absl::StatusOr<FashionMnist> LoadFashionMnist(const std::string& dir) {
  FashionMnist data;
  ASSIGN_OR_RETURN(data.train, ReadIdxPair(absl::StrCat(dir, "/train-images-idx3-ubyte.gz"),
                                           absl::StrCat(dir, "/train-labels-idx1-ubyte.gz")));
  ASSIGN_OR_RETURN(data.test, ReadIdxPair(absl::StrCat(dir, "/t10k-images-idx3-ubyte.gz"),
                                          absl::StrCat(dir, "/t10k-labels-idx1-ubyte.gz")));
  if (data.train.rows != data.test.rows || data.train.cols != data.test.cols) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": train images are ", data.train.rows, "x",
                                                   data.train.cols, " but t10k images are ",
                                                   data.test.rows, "x", data.test.cols));
  }
  return data;
}

}  // namespace cosched::worker
