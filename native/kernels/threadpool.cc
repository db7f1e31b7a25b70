#include "kernels/threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace ringtree::kernels {
namespace {

thread_local bool t_in_pool = false;

class Pool {
 public:
  Pool() : threads_(default_num_threads()) {}
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  int threads() const { return threads_.load(); }
  void set_threads(int n) { threads_.store(std::max(1, std::min(n, 256))); }

  void run(int ntasks, const std::function<void(int)>& fn) {
    int nt = std::min(threads(), ntasks);
    std::unique_lock<std::mutex> run_lock(run_mu_, std::try_to_lock);
    if (nt <= 1 || t_in_pool || !run_lock.owns_lock()) {
      for (int i = 0; i < ntasks; ++i) fn(i);
      return;
    }
    ensure_workers(nt - 1);
    {
      std::lock_guard<std::mutex> lk(mu_);
      fn_ = &fn;
      ntasks_ = ntasks;
      next_.store(0);
      wanted_ = nt - 1;  // workers that take part in this job
      joined_ = 0;
      active_ = nt - 1;
      ++generation_;
    }
    cv_.notify_all();
    t_in_pool = true;
    drain();
    t_in_pool = false;
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return active_ == 0; });
    fn_ = nullptr;
  }

 private:
  void drain() {
    for (;;) {
      int i = next_.fetch_add(1);
      if (i >= ntasks_) break;
      (*fn_)(i);
    }
  }

  void ensure_workers(int n) {
    while (static_cast<int>(workers_.size()) < n) workers_.emplace_back([this] { loop(); });
  }

  void loop() {
    t_in_pool = true;
    unsigned long seen = 0;
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || (generation_ != seen && joined_ < wanted_); });
      if (stop_) return;
      seen = generation_;
      ++joined_;
      lk.unlock();
      drain();
      lk.lock();
      if (--active_ == 0) done_cv_.notify_one();
    }
  }

  std::atomic<int> threads_;
  std::vector<std::thread> workers_;
  std::mutex run_mu_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* fn_ = nullptr;
  int ntasks_ = 0;
  std::atomic<int> next_{0};
  int wanted_ = 0, joined_ = 0, active_ = 0;
  unsigned long generation_ = 0;
  bool stop_ = false;
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: workers may outlive static destruction order
  return *p;
}

int env_int(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return 0;
  return std::atoi(v);
}

}  // namespace

int default_num_threads() {
  int n = env_int("RINGTREE_NUM_THREADS");
  if (n > 0) return n;
  int cores = static_cast<int>(std::thread::hardware_concurrency());
  if (cores <= 0) cores = 1;
  int local = 0;
  for (const char* v : {"RINGTREE_LOCAL_WORLD_SIZE", "LOCAL_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS",
                        "SLURM_NTASKS_PER_NODE"}) {
    local = env_int(v);
    if (local > 0) break;
  }
  if (local > 1) return std::max(1, cores / local);
  return cores;
}

int num_threads() { return pool().threads(); }
void set_num_threads(int n) { pool().set_threads(n); }
void parallel_for(int ntasks, const std::function<void(int)>& fn) {
  if (ntasks <= 0) return;
  pool().run(ntasks, fn);
}

}  // namespace ringtree::kernels
