#include "caboose/cli/cli.h"

int main(int argc, char** argv) {
  return caboose::cli::run_cli(argc, argv);
}
