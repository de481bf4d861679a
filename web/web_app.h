// The web host's single StudioApp, shared by the main loop and the Embind bindings.
#pragma once
#include <string>

#include "studio_app.h"

namespace mixq::studio {
StudioApp& web_app();
void web_set_clipboard(const std::string& text);
}  // namespace mixq::studio
