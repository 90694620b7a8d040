#include "common/helper_thread.h"

#include <pthread.h>
#include <signal.h>

namespace imgbuild {

std::thread start_helper_thread(std::function<void()> work) {
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);  // inherited by the new thread
    try {
        std::thread t(std::move(work));
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
        return t;
    } catch (...) {
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
        throw;
    }
}

}  // namespace imgbuild
