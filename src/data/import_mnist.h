// Imports MNIST from its IDX files, plain or gzipped (as downloaded):
//   train-images-idx3-ubyte  train-labels-idx1-ubyte
//   t10k-images-idx3-ubyte   t10k-labels-idx1-ubyte      (each may end in .gz)
// IDX: big-endian header; images magic 2051, count, rows, cols, then
// count*rows*cols uint8 pixels; labels magic 2049, count, then count labels.
#pragma once

#include <string>

#include "core/status.h"
#include "data/import_common.h"

namespace claimsweep {

// Writes splits train, val (carved from the training set) and test, images
// rows x cols x 1, classes "0".."9". NotFound naming a missing file;
// Corruption naming the file for a bad magic number, a truncated file or gzip
// stream, image and label counts that differ, or a label above 9.
Status ImportMnist(const std::string& src, const std::string& out_dir,
                   const ImportOptions& o = ImportOptions());

}  // namespace claimsweep
