// Adapter between the qtable doctor (core/mixq/qtable*.h, fp_forward.h) and the studio's
// qtable panel. Placeholder until the qtable branch is merged.
#include "mixq/error.h"
#include "studio_qtable.h"

namespace mixq::studio {

std::vector<QtableEntry> qtable_check_entries(const StudioSession&, const std::string&, const std::string&) {
  throw Error("qtable: the qtable doctor is not part of this build yet");
}

std::vector<int> qtable_yolo_head_layers(const StudioSession&) {
  throw Error("YOLO heads: fp_forward is not part of this build yet");
}

}  // namespace mixq::studio
