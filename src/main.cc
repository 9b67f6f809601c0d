#include "cli/main.h"

int main(int argc, char** argv) { return jitsec::cli::Main(argc, argv); }
