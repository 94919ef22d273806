// Record shards (".csrec"): a versioned header, then records that each carry
// their length and a CRC-32C of their payload, so a reader can tell a torn or
// bit-flipped shard from a good one and say exactly where it went bad.
//
//   header  8 bytes  "CSREC" '\0' + uint16 LE format version (1)
//   record  uint32 LE payload length | uint32 LE CRC-32C(payload) | payload
//
// Shards are large streaming files, so these classes use POSIX file
// descriptors directly rather than Env (whose calls move whole files).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace claimsweep {

inline constexpr uint16_t kRecordFormatVersion = 1;
inline constexpr size_t kRecordHeaderBytes = 8;  // file header
inline constexpr size_t kRecordPrefixBytes = 8;  // per record: length + crc
// A length above this is taken as corruption rather than a huge allocation.
inline constexpr uint32_t kMaxRecordBytes = 64u << 20;

// What a finished shard looks like: the values its manifest entry records.
struct ShardSummary {
  uint64_t records = 0;
  uint64_t bytes = 0;   // file size, header included
  uint32_t crc32c = 0;  // CRC-32C of the whole file
};

// Writes one shard. Records go to `path + ".tmp.<pid>"`; Finish() fsyncs and
// renames it to `path`, so a reader never sees a half-written shard under the
// final name. Not thread-safe.
class RecordWriter {
 public:
  // Creates the temp file and writes the header.
  static Result<std::unique_ptr<RecordWriter>> Create(const std::string& path);
  // Removes the temp file if Finish() was not reached (or failed).
  ~RecordWriter();

  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  // REQUIRES: n <= kMaxRecordBytes; Finish() not yet called.
  Status Add(const void* payload, size_t n);
  Status Add(const std::string& payload) { return Add(payload.data(), payload.size()); }

  // Flushes, fsyncs, closes and renames into place. Any error leaves nothing
  // under `path` that this writer created.
  Result<ShardSummary> Finish();

  const std::string& path() const { return path_; }
  uint64_t records() const { return summary_.records; }

 private:
  RecordWriter(std::string path, std::string tmp, int fd);
  Status Write(const void* data, size_t n);
  Status Flush();

  std::string path_, tmp_;
  int fd_;
  std::vector<char> buf_;
  ShardSummary summary_;
  bool finished_ = false;
};

// Streams the records of one shard through a 1 MiB buffer. Every error names
// the file and the byte offset of the record that is bad:
//   Corruption   truncated header/record, bad magic, checksum mismatch,
//                length over kMaxRecordBytes
//   Unsupported  a format version this build does not know
//   NotFound / IOError from the filesystem.
// After an error the reader stays failed. Not thread-safe.
class RecordReader {
 public:
  static Result<std::unique_ptr<RecordReader>> Open(const std::string& path);
  ~RecordReader();

  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // Sets *payload to the next record and *eof = false, or *eof = true when
  // the file ends exactly after the last record. Never returns data that
  // failed its checksum.
  Status Next(std::string* payload, bool* eof);

  const std::string& path() const { return path_; }
  // File offset of the record last returned by Next (for callers' messages).
  uint64_t record_offset() const { return record_offset_; }
  uint64_t records_read() const { return records_; }
  // Bytes consumed and their CRC-32C; at eof, the whole file's.
  uint64_t bytes_read() const { return offset_; }
  uint32_t file_crc32c() const { return file_crc_; }
  uint64_t file_size() const { return file_size_; }

 private:
  RecordReader(std::string path, int fd, uint64_t size);
  Status ReadHeader();
  // Reads exactly n bytes (the caller has checked they exist in the file).
  Status ReadExact(char* dst, size_t n);
  Status Fail(uint64_t offset, const std::string& what);

  std::string path_;
  int fd_;
  uint64_t file_size_;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;  // unread bytes are buf_[pos_, end_)
  uint64_t offset_ = 0;       // file offset of buf_[pos_]
  uint64_t record_offset_ = 0;
  uint64_t records_ = 0;
  uint32_t file_crc_ = 0;
  Status failed_;
};

}  // namespace claimsweep
