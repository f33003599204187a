// `trainer coco-eval`: pycocotools' bbox evaluation of a results file (contract:
// src/cli/README.md).
#pragma once

namespace trainer {

// argv[0] is "coco-eval". Prints the 12 summary lines to stdout; returns 0 on success, non-zero
// with a one-line reason on stderr otherwise.
int run_coco_eval_command(int argc, char** argv);

}  // namespace trainer
