// The Tracer: numbering, the file sink (one write(2) per event), the ring and live subscribers.
#include "el3d/trace/trace.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace el3d::trace {

std::optional<Event> Subscription::next(std::chrono::milliseconds timeout)
{
	std::unique_lock lock(mu_);
	cv_.wait_for(lock, timeout, [&] { return !q_.empty() || closed_; });
	if (q_.empty())
		return std::nullopt;
	Event e = std::move(q_.front());
	q_.pop_front();
	return e;
}

uint64_t Subscription::lost() const
{
	std::lock_guard lock(mu_);
	return lost_;
}

void Subscription::close()
{
	std::lock_guard lock(mu_);
	closed_ = true;
	cv_.notify_all();
}

void Subscription::push(const Event& e)
{
	if (!filter_.matches(e))
		return;
	std::lock_guard lock(mu_);
	if (q_.size() >= limit_) {
		++lost_;
		return;
	}
	q_.push_back(e);
	cv_.notify_one();
}

Tracer::~Tracer()
{
	if (fd_ >= 0)
		::close(fd_);
	for (auto& s : subs_)
		s->close();
}

void Tracer::set_fixed_clock(bool on)
{
	std::lock_guard lock(mu_);
	fixed_clock_ = on;
}

void Tracer::update_enabled() { enabled_.store(fd_ >= 0 || ring_limit_ != 0 || !subs_.empty()); }

void Tracer::record(Event e)
{
	std::lock_guard lock(mu_);
	e.seq = ++seq_;
	if (fixed_clock_) {
		e.time_ns = static_cast<int64_t>(e.seq) * 1000;
		e.duration_ns = 0;
	} else if (e.time_ns == 0)
		e.time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
		                std::chrono::system_clock::now().time_since_epoch())
		                .count();
	if (fd_ >= 0) {
		// One write(2) of the whole line: in the page cache (and the file) before the call it
		// records returns, so a kill -9 of el3d loses no completed call.
		const std::string line = to_json(e).dump() + "\n";
		std::size_t done = 0;
		while (done < line.size()) {
			const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				spdlog::error("trace file {}: {}; the trace to the file stops", file_, std::strerror(errno));
				::close(fd_);
				fd_ = -1;
				file_.clear();
				update_enabled();
				break;
			}
			done += static_cast<std::size_t>(n);
		}
	}
	for (auto& s : subs_)
		s->push(e);
	if (ring_limit_ != 0) {
		ring_.push_back(std::move(e));
		while (ring_.size() > ring_limit_)
			ring_.pop_front();
	}
}

void Tracer::open_file(const std::string& path)
{
	int fd = -1;
	if (!path.empty()) {
		fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0)
			throw std::runtime_error("cannot open trace file " + path + ": " + std::strerror(errno));
	}
	std::lock_guard lock(mu_);
	if (fd_ >= 0)
		::close(fd_);
	fd_ = fd;
	file_ = path;
	update_enabled();
}

void Tracer::set_ring(std::size_t n)
{
	std::lock_guard lock(mu_);
	ring_limit_ = n;
	while (ring_.size() > ring_limit_)
		ring_.pop_front();
	update_enabled();
}

std::string Tracer::file() const
{
	std::lock_guard lock(mu_);
	return file_;
}

std::size_t Tracer::ring_size() const
{
	std::lock_guard lock(mu_);
	return ring_limit_;
}

std::vector<Event> Tracer::ring() const
{
	std::lock_guard lock(mu_);
	return {ring_.begin(), ring_.end()};
}

uint64_t Tracer::recorded() const
{
	std::lock_guard lock(mu_);
	return seq_;
}

std::shared_ptr<Subscription> Tracer::subscribe(Filter f, std::size_t limit)
{
	auto s = std::make_shared<Subscription>(std::move(f), std::max<std::size_t>(limit, 1));
	std::lock_guard lock(mu_);
	subs_.push_back(s);
	update_enabled();
	return s;
}

void Tracer::unsubscribe(const std::shared_ptr<Subscription>& s)
{
	std::lock_guard lock(mu_);
	subs_.erase(std::remove(subs_.begin(), subs_.end(), s), subs_.end());
	s->close();
	update_enabled();
}

}  // namespace el3d::trace
