// danvan-console-passwd: prints a console.users[].password_hash for a password read from
// standard input (one line; not echoed when stdin is a terminal), e.g.
//   danvan-console-passwd --iterations 600000 < password.txt
#include <termios.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <string>

#include "console/password.h"

int main(int argc, char** argv) {
  int64_t iterations = 600000;  // OWASP 2023 for PBKDF2-HMAC-SHA256; the plugin requires >= 100000
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
      iterations = std::atoll(argv[++i]);
    } else {
      std::cerr << "usage: danvan-console-passwd [--iterations N (>= 100000, default 600000)] < password\n"
                   "Đọc mật khẩu từ đầu vào chuẩn, in chuỗi băm cho console.users[].password_hash.\n";
      return 2;
    }
  }
  if (iterations < 100000) {
    std::cerr << "--iterations: cần ít nhất 100000\n";
    return 2;
  }
  const bool tty = isatty(STDIN_FILENO);
  termios old{};
  if (tty) {
    std::cerr << "Mật khẩu: " << std::flush;
    tcgetattr(STDIN_FILENO, &old);
    termios no_echo = old;
    no_echo.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &no_echo);
  }
  std::string password;
  std::getline(std::cin, password);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.size() < 8) {
    std::cerr << "mật khẩu cần ít nhất 8 ký tự\n";
    return 2;
  }
  auto h = danvan::console::HashPassword(password, iterations);
  if (!h.ok()) {
    std::cerr << h.status().message() << "\n";
    return 1;
  }
  std::cout << h.value() << "\n";
  return 0;
}
