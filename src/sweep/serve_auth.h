// Who may use `sweep serve`: every user of a shared login node can connect
// to a loopback port, so each request must prove it knows the token the
// server printed (as Jupyter does). A request carries it as `?token=` (the
// printed URL) or as the cookie the page's first response sets; anything
// else is answered 403. State-changing requests (POST) also carry the
// page's anti-CSRF nonce in the X-Sweep-Nonce header: a page from another
// origin can neither read the nonce nor set that header without a CORS
// preflight the server never grants.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace claimsweep {

// The cookie's name is ServeCookieName(port): browsers keep cookies per
// host, not per port, and two servers of one user must not evict each
// other's.
std::string ServeCookieName(int port);
constexpr char kNonceHeader[] = "X-Sweep-Nonce";

// 32 random bytes from /dev/urandom as 64 lowercase hex digits.
Status NewRandomToken(std::string* token);

// Equal contents, in time that depends only on the lengths (the token's
// length is public: 64).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// The value of cookie `name` in a Cookie header ("a=1; b=2"), "" if absent.
std::string CookieValue(std::string_view header, std::string_view name);

// Whether a request proves it knows `token`: its ?token= query value, or
// its cookie `cookie_name`. An empty token admits nobody.
bool RequestHasToken(const std::string& token, const std::string& query_token,
                     const std::string& cookie_header, const std::string& cookie_name);

// Where the token file goes: $XDG_RUNTIME_DIR/claimsweep/, else
// /tmp/claimsweep-<uid>/ (created 0700 and checked to be ours, not a link).
std::string TokenFileDir();

// Writes "<url>\n" to <TokenFileDir()>/serve-<port>.url, mode 0600, by
// write-then-rename; *path is the file.
Status WriteTokenFile(int port, const std::string& url, std::string* path);

}  // namespace claimsweep
