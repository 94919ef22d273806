// What `sweep serve` sends a browser: the page around the live report, its
// script and its stylesheet. The page has no inline script or style, so the
// Content-Security-Policy (kServeCsp) can forbid both and every fetch that
// is not to the server itself.
#pragma once

#include <string>
#include <vector>

namespace claimsweep {

constexpr char kServeCsp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// One <section class="sweep" data-sweep="k"> per sweep directory (its name
// and path, escaped), the page's anti-CSRF nonce in <meta name="sweep-nonce">.
std::string ServePageHtml(const std::vector<std::string>& names,
                          const std::vector<std::string>& dirs, const std::string& nonce);
// The script: polls /api/view?sweep=k (If-None-Match: the last ETag), puts
// the content in place (sort order and selection kept), sorts the table,
// adds the control buttons and POSTs them to /api/control.
const char* ServeScript();
// The report's stylesheet and the dashboard's.
std::string ServeStyle();

}  // namespace claimsweep
