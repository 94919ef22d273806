// Imports CIFAR-10 in its binary version (cifar-10-binary.tar.gz, unpacked):
//   data_batch_1.bin .. data_batch_5.bin, test_batch.bin
//   each record: 1 label byte (0..9) + 3072 pixel bytes as three 32x32
//   planes (R, G, B); converted to HWC.
//   batches.meta.txt (optional): the class names, one per line.
#pragma once

#include <string>

#include "core/status.h"
#include "data/import_common.h"

namespace claimsweep {

// `src` is the directory holding the .bin files, or its parent (the
// cifar-10-batches-bin folder is found inside). Writes splits train, val
// (carved from the five training batches) and test to `out_dir`.
// NotFound naming a missing file; Corruption naming the file when a file is
// not a whole number of records (truncated) or holds a label above 9.
Status ImportCifar10(const std::string& src, const std::string& out_dir,
                     const ImportOptions& o = ImportOptions());

}  // namespace claimsweep
