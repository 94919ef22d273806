#include "data/record_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "data/crc32c.h"

namespace claimsweep {
namespace {

constexpr char kMagic[6] = {'C', 'S', 'R', 'E', 'C', '\0'};
constexpr size_t kBufferBytes = 1 << 20;

void PutLE32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

uint32_t GetLE32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t(u[0]) | (uint32_t(u[1]) << 8) | (uint32_t(u[2]) << 16) | (uint32_t(u[3]) << 24);
}

}  // namespace

// --- RecordWriter -------------------------------------------------------------

RecordWriter::RecordWriter(std::string path, std::string tmp, int fd)
    : path_(std::move(path)), tmp_(std::move(tmp)), fd_(fd) {
  buf_.reserve(kBufferBytes);
}

RecordWriter::~RecordWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!finished_) ::unlink(tmp_.c_str());
}

Result<std::unique_ptr<RecordWriter>> RecordWriter::Create(const std::string& path) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("create", tmp, errno);
  std::unique_ptr<RecordWriter> w(new RecordWriter(path, tmp, fd));
  char header[kRecordHeaderBytes];
  std::memcpy(header, kMagic, sizeof(kMagic));
  header[6] = static_cast<char>(kRecordFormatVersion & 0xFF);
  header[7] = static_cast<char>(kRecordFormatVersion >> 8);
  CS_RETURN_IF_ERROR(w->Write(header, sizeof(header)));
  return w;
}

Status RecordWriter::Write(const void* data, size_t n) {
  summary_.crc32c = crc32c::Extend(summary_.crc32c, data, n);
  summary_.bytes += n;
  const char* p = static_cast<const char*>(data);
  if (buf_.size() + n > kBufferBytes) CS_RETURN_IF_ERROR(Flush());
  if (n >= kBufferBytes) {  // large record: straight to the file
    while (n > 0) {
      ssize_t r = ::write(fd_, p, n);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return Status::FromErrno("write", tmp_, errno);
      p += r;
      n -= static_cast<size_t>(r);
    }
    return Status::OK();
  }
  buf_.insert(buf_.end(), p, p + n);
  return Status::OK();
}

Status RecordWriter::Flush() {
  size_t done = 0;
  while (done < buf_.size()) {
    ssize_t r = ::write(fd_, buf_.data() + done, buf_.size() - done);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::FromErrno("write", tmp_, errno);
    done += static_cast<size_t>(r);
  }
  buf_.clear();
  return Status::OK();
}

Status RecordWriter::Add(const void* payload, size_t n) {
  if (finished_ || fd_ < 0) return Status::InvalidArgument(path_ + ": Add after Finish");
  if (n > kMaxRecordBytes) {
    return Status::InvalidArgument(path_ + ": record of " + std::to_string(n) +
                                   " bytes exceeds the 64 MiB limit");
  }
  char prefix[kRecordPrefixBytes];
  PutLE32(prefix, static_cast<uint32_t>(n));
  PutLE32(prefix + 4, crc32c::Value(payload, n));
  CS_RETURN_IF_ERROR(Write(prefix, sizeof(prefix)));
  CS_RETURN_IF_ERROR(Write(payload, n));
  ++summary_.records;
  return Status::OK();
}

Result<ShardSummary> RecordWriter::Finish() {
  if (finished_ || fd_ < 0) return Status::InvalidArgument(path_ + ": Finish called twice");
  CS_RETURN_IF_ERROR(Flush());
  if (::fsync(fd_) != 0) return Status::FromErrno("fsync", tmp_, errno);
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return Status::FromErrno("close", tmp_, errno);
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) return Status::FromErrno("rename", path_, errno);
  finished_ = true;
  return summary_;
}

// --- RecordReader -------------------------------------------------------------

RecordReader::RecordReader(std::string path, int fd, uint64_t size)
    : path_(std::move(path)), fd_(fd), file_size_(size), buf_(kBufferBytes) {}

RecordReader::~RecordReader() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<RecordReader>> RecordReader::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open", path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno("stat", path, err);
  }
  std::unique_ptr<RecordReader> r(new RecordReader(path, fd, static_cast<uint64_t>(st.st_size)));
  CS_RETURN_IF_ERROR(r->ReadHeader());
  return r;
}

Status RecordReader::Fail(uint64_t offset, const std::string& what) {
  failed_ =
      Status::Corruption(path_ + ": record at offset " + std::to_string(offset) + ": " + what);
  return failed_;
}

Status RecordReader::ReadExact(char* dst, size_t n) {
  while (n > 0) {
    if (pos_ == end_) {
      ssize_t r = ::read(fd_, buf_.data(), buf_.size());
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return failed_ = Status::FromErrno("read", path_, errno);
      // The file shrank under us since Open's fstat: still corruption, not a crash.
      if (r == 0) return Fail(offset_, "file ends early (was it truncated while being read?)");
      pos_ = 0;
      end_ = static_cast<size_t>(r);
    }
    size_t k = std::min(n, end_ - pos_);
    std::memcpy(dst, buf_.data() + pos_, k);
    file_crc_ = crc32c::Extend(file_crc_, dst, k);
    pos_ += k;
    offset_ += k;
    dst += k;
    n -= k;
  }
  return Status::OK();
}

Status RecordReader::ReadHeader() {
  if (file_size_ < kRecordHeaderBytes) {
    return failed_ =
               Status::Corruption(path_ + ": truncated header (" + std::to_string(file_size_) +
                                  " bytes; a record shard starts with an 8-byte header)");
  }
  char h[kRecordHeaderBytes];
  CS_RETURN_IF_ERROR(ReadExact(h, sizeof(h)));
  if (std::memcmp(h, kMagic, sizeof(kMagic)) != 0) {
    return failed_ =
               Status::Corruption(path_ + ": not a claimsweep record shard (bad magic in header)");
  }
  uint16_t version = static_cast<uint16_t>(static_cast<unsigned char>(h[6]) |
                                           (static_cast<unsigned char>(h[7]) << 8));
  if (version != kRecordFormatVersion) {
    return failed_ = Status::Unsupported(
               path_ + ": record format version " + std::to_string(version) +
               " is not known to this claimsweep (it reads version " +
               std::to_string(kRecordFormatVersion) + "); use a newer claimsweep");
  }
  return Status::OK();
}

Status RecordReader::Next(std::string* payload, bool* eof) {
  *eof = false;
  if (!failed_.ok()) return failed_;
  const uint64_t at = offset_;
  if (at == file_size_) {
    *eof = true;
    return Status::OK();
  }
  if (file_size_ - at < kRecordPrefixBytes) {
    return Fail(at, "truncated record header (" + std::to_string(file_size_ - at) + " of 8 bytes)");
  }
  char prefix[kRecordPrefixBytes];
  CS_RETURN_IF_ERROR(ReadExact(prefix, sizeof(prefix)));
  const uint32_t n = GetLE32(prefix);
  const uint32_t want_crc = GetLE32(prefix + 4);
  if (n > kMaxRecordBytes) {
    return Fail(
        at, "length " + std::to_string(n) + " exceeds the 64 MiB record limit (corrupt length)");
  }
  // Checked against the file size before allocating, so a corrupt length
  // costs nothing.
  if (file_size_ - offset_ < n) {
    return Fail(at, "truncated record (length " + std::to_string(n) + ", only " +
                        std::to_string(file_size_ - offset_) + " bytes left in the file)");
  }
  payload->resize(n);
  CS_RETURN_IF_ERROR(ReadExact(payload->data(), n));
  if (crc32c::Value(payload->data(), n) != want_crc) {
    payload->clear();
    return Fail(at, "checksum mismatch");
  }
  record_offset_ = at;
  ++records_;
  return Status::OK();
}

}  // namespace claimsweep
