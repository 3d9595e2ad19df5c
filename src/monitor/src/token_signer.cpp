#include "token_signer.hpp"

#include <asio.hpp>

#include <cstring>
#include <thread>

namespace el3d {

namespace {
template <typename T>
T load_le(const uint8_t* p)
{
	T v;
	std::memcpy(&v, p, sizeof(v));
	return v;
}
template <typename T>
void store_le(uint8_t* p, T v)
{
	std::memcpy(p, &v, sizeof(v));
}
}  // namespace

SignRequest SignRequest::decode(const uint8_t* buf)
{
	SignRequest r;
	r.sig_alg_id = load_le<uint32_t>(buf + 0x00);
	r.rec_granule = load_le<uint64_t>(buf + 0x08);
	r.req_ticket = load_le<uint64_t>(buf + 0x10);
	r.hash_alg_id = load_le<uint32_t>(buf + 0x18);
	std::memcpy(r.hash.data(), buf + 0x20, r.hash.size());
	return r;
}

void SignResponse::encode(uint8_t* buf) const
{
	std::memset(buf, 0, kSignResponseSize);
	store_le<uint64_t>(buf + 0x00, rec_granule);
	store_le<uint64_t>(buf + 0x08, req_ticket);
	store_le<uint16_t>(buf + 0x10, static_cast<uint16_t>(signature.size()));
	std::memcpy(buf + 0x12, signature.data(), std::min<std::size_t>(signature.size(), 512));
}

struct TokenSigner::Worker {
	asio::io_context io;
	asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
	std::thread thread{[this] { io.run(); }};
	~Worker()
	{
		guard.reset();
		io.stop();
		thread.join();
	}
};

TokenSigner::TokenSigner(const attest::EcKey& key, unsigned depth, std::chrono::milliseconds delay, bool synchronous)
    : key_(key), depth_(depth == 0 ? 1 : depth), delay_(delay),
      synchronous_(synchronous)
{
}

TokenSigner::~TokenSigner() { worker_.reset(); }

void TokenSigner::schedule(std::shared_ptr<SignRequest> req)
{
	if (synchronous_) {  // the caller holds mu_ and has just queued `req` last
		SignResponse resp;
		resp.rec_granule = req->rec_granule;
		resp.req_ticket = req->req_ticket;
		resp.signature = key_.sign_digest(std::span<const uint8_t>(req->hash.data(), 48));
		pending_.pop_back();
		ready_.push_back(std::move(resp));
		return;
	}
	// The worker thread starts with the first request that needs it: a monitor that never signs has none
	// (and a process with one thread flushes its TLB on a hole punched in the image without an IPI).
	if (!worker_)
		worker_ = std::make_unique<Worker>();
	auto timer = std::make_shared<asio::steady_timer>(worker_->io, delay_);
	const uint64_t gen = generation_;
	timer->async_wait([this, timer, req, gen](const std::error_code& ec) {
		if (ec)
			return;
		// Sign outside the lock: this is the slow part.
		SignResponse resp;
		resp.rec_granule = req->rec_granule;
		resp.req_ticket = req->req_ticket;
		resp.signature = key_.sign_digest(std::span<const uint8_t>(req->hash.data(), 48));
		std::lock_guard lock(mu_);
		if (gen != generation_)
			return;
		for (auto it = pending_.begin(); it != pending_.end(); ++it)
			if (*it == req) {
				pending_.erase(it);
				ready_.push_back(std::move(resp));
				return;
			}
	});
}

bool TokenSigner::push(const SignRequest& req)
{
	std::lock_guard lock(mu_);
	if (pending_.size() + ready_.size() >= depth_)
		return false;
	auto r = std::make_shared<SignRequest>(req);
	pending_.push_back(r);
	schedule(r);
	return true;
}

std::optional<SignResponse> TokenSigner::pull()
{
	std::lock_guard lock(mu_);
	if (ready_.empty())
		return std::nullopt;
	SignResponse r = std::move(ready_.front());
	ready_.pop_front();
	++done_;
	return r;
}

TokenSigner::Counts TokenSigner::counts() const
{
	std::lock_guard lock(mu_);
	return {pending_.size(), ready_.size(), done_};
}

void TokenSigner::encode(attest::cbor::Writer& w) const
{
	std::lock_guard lock(mu_);
	w.map(3);
	w.text("pending").array(pending_.size());
	for (const auto& r : pending_) {
		w.map(5);
		w.text("sig_alg").uint(r->sig_alg_id);
		w.text("granule").uint(r->rec_granule);
		w.text("ticket").uint(r->req_ticket);
		w.text("hash_alg").uint(r->hash_alg_id);
		w.text("hash").bytes(r->hash);
	}
	w.text("ready").array(ready_.size());
	for (const auto& r : ready_) {
		w.map(3);
		w.text("granule").uint(r.rec_granule);
		w.text("ticket").uint(r.req_ticket);
		w.text("sig").bytes(r.signature);
	}
	w.text("done").uint(done_);
}

void TokenSigner::load(const nlohmann::json& j)
{
	clear();
	if (!j.is_object())
		return;
	std::lock_guard lock(mu_);
	done_ = j.value("done", uint64_t{0});
	if (auto it = j.find("ready"); it != j.end() && it->is_array())
		for (const auto& r : *it) {
			SignResponse s;
			s.rec_granule = r.value("granule", uint64_t{0});
			s.req_ticket = r.value("ticket", uint64_t{0});
			if (r.contains("sig") && r["sig"].is_binary())
				s.signature = r["sig"].get_binary();
			ready_.push_back(std::move(s));
		}
	if (auto it = j.find("pending"); it != j.end() && it->is_array())
		for (const auto& r : *it) {
			auto q = std::make_shared<SignRequest>();
			q->sig_alg_id = r.value("sig_alg", uint32_t{0});
			q->rec_granule = r.value("granule", uint64_t{0});
			q->req_ticket = r.value("ticket", uint64_t{0});
			q->hash_alg_id = r.value("hash_alg", uint32_t{1});
			if (r.contains("hash") && r["hash"].is_binary()) {
				const auto& h = r["hash"].get_binary();
				std::memcpy(q->hash.data(), h.data(), std::min(h.size(), q->hash.size()));
			}
			pending_.push_back(q);
			schedule(q);
		}
}

void TokenSigner::clear()
{
	std::lock_guard lock(mu_);
	++generation_;
	pending_.clear();
	ready_.clear();
	done_ = 0;
}

}  // namespace el3d
