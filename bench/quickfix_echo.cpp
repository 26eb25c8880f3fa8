// bench/quickfix_echo.cpp: the QuickFIX C++ baseline of `make bench` (Debian's libquickfix, FIX 4.4).
//
// An acceptor whose application answers every NewOrderSingle with an ExecutionReport New (ExecType 0,
// OrdStatus 0, its ClOrdID, Symbol, Side, OrderQty; LeavesQty = OrderQty): the same work at the application
// level as the ack of `metaorder run`'s intake, so bench/loadgen.c measures both with --reply-type 8.
// Everything around it is QuickFIX's: sessions, validation against the data dictionary (when one is given),
// a FileStore of every message sent (as `metaorder` keeps its store), one thread per session.
//
//   quickfix_echo --port PORT [--sender-comp-id ISLD] [--target-comp-id LOADGEN ...] [--store DIR]
//                 [--reset-on-logon] [--dictionary FIX44.xml]
//
// Settings are generated from the command line (no settings file).  Without --dictionary,
// UseDataDictionary=N.  Prints "quickfix_echo: listening on port N" on stderr when ready; exits 0 on
// SIGTERM or SIGINT (logging every session out first).
//
// Build: c++ -std=gnu++14 -O2 -o build/bench/quickfix_echo bench/quickfix_echo.cpp -lquickfix -lpthread
// (bench/native_tools.py does it for make bench when /usr/include/quickfix exists).
#include <quickfix/Application.h>
#include <quickfix/FileStore.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/ThreadedSocketAcceptor.h>
#include <quickfix/fix44/ExecutionReport.h>
#include <quickfix/fix44/NewOrderSingle.h>

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

// libquickfix 1.15 declares the Application callbacks with dynamic exception specifications (C++14 at most;
// built with -std=gnu++14), which an override must repeat.
#define QF_THROW(...) throw(__VA_ARGS__)

namespace {

class EchoApplication : public FIX::Application {
public:
    std::atomic<unsigned long> acked{0};

    void onCreate(const FIX::SessionID&) override {}
    void onLogon(const FIX::SessionID& id) override { std::cerr << "quickfix_echo: logon " << id << std::endl; }
    void onLogout(const FIX::SessionID& id) override {
        std::cerr << "quickfix_echo: logout " << id << " (acked " << acked.load() << ")" << std::endl;
    }
    void toAdmin(FIX::Message&, const FIX::SessionID&) override {}
    void toApp(FIX::Message&, const FIX::SessionID&) QF_THROW(FIX::DoNotSend) override {}
    void fromAdmin(const FIX::Message&, const FIX::SessionID&)
        QF_THROW(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::RejectLogon) override {}

    void fromApp(const FIX::Message& message, const FIX::SessionID& id)
        QF_THROW(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
               FIX::UnsupportedMessageType) override {
        FIX::MsgType type;
        message.getHeader().getField(type);
        if (type != FIX::MsgType_NewOrderSingle) throw FIX::UnsupportedMessageType();
        FIX::ClOrdID cl_ord_id;
        FIX::Symbol symbol;
        FIX::Side side;
        FIX::OrderQty qty;
        message.getField(cl_ord_id);
        message.getField(symbol);
        message.getField(side);
        message.getField(qty);
        const std::string n = std::to_string(++acked);
        FIX44::ExecutionReport report(FIX::OrderID("O" + n), FIX::ExecID("E" + n), FIX::ExecType(FIX::ExecType_NEW),
                                      FIX::OrdStatus(FIX::OrdStatus_NEW), side, FIX::LeavesQty(qty.getValue()),
                                      FIX::CumQty(0), FIX::AvgPx(0));
        report.set(cl_ord_id);
        report.set(symbol);
        report.set(qty);
        FIX::Session::sendToTarget(report, id);
    }
};

int usage() {
    std::cerr << "usage: quickfix_echo --port PORT [--sender-comp-id ID] [--target-comp-id ID ...] [--store DIR]\n"
                 "                     [--reset-on-logon] [--dictionary FIX44.xml]\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::string port, sender = "ISLD", store = "quickfix-store", dictionary;
    std::vector<std::string> targets;
    bool reset = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--port" && has_value) port = argv[++i];
        else if (arg == "--sender-comp-id" && has_value) sender = argv[++i];
        else if (arg == "--target-comp-id" && has_value) targets.emplace_back(argv[++i]);
        else if (arg == "--store" && has_value) store = argv[++i];
        else if (arg == "--dictionary" && has_value) dictionary = argv[++i];
        else if (arg == "--reset-on-logon") reset = true;
        else return usage();
    }
    if (port.empty()) return usage();
    if (targets.empty()) targets.emplace_back("LOADGEN");

    // Signals are blocked before QuickFIX starts its threads (they inherit the mask): only sigwait sees them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    try {
        FIX::SessionSettings settings;
        FIX::Dictionary defaults;
        defaults.setString("ConnectionType", "acceptor");
        defaults.setString("SocketAcceptPort", port);
        defaults.setString("SocketReuseAddress", "Y");
        defaults.setString("SocketNodelay", "Y");
        defaults.setString("FileStorePath", store);
        defaults.setString("StartTime", "00:00:00");
        defaults.setString("EndTime", "00:00:00");  // equal start and end: the session never ends
        defaults.setString("ResetOnLogon", reset ? "Y" : "N");
        defaults.setString("TimestampPrecision", "3");
        if (dictionary.empty()) {
            defaults.setString("UseDataDictionary", "N");
        } else {
            defaults.setString("UseDataDictionary", "Y");
            defaults.setString("DataDictionary", dictionary);
        }
        settings.set(defaults);
        for (const auto& target : targets) settings.set(FIX::SessionID("FIX.4.4", sender, target), FIX::Dictionary());

        EchoApplication app;
        FIX::FileStoreFactory store_factory(settings);
        FIX::ThreadedSocketAcceptor acceptor(app, store_factory, settings);
        acceptor.start();
        std::cerr << "quickfix_echo: listening on port " << port << " as " << sender << "; dictionary: "
                  << (dictionary.empty() ? "none" : dictionary) << "; store: " << store << std::endl;
        int sig = 0;
        sigwait(&stop_signals, &sig);
        acceptor.stop();
        std::cerr << "quickfix_echo: stopped; acked " << app.acked.load() << " orders" << std::endl;
    } catch (const std::exception& e) {
        std::cerr << "quickfix_echo: " << e.what() << std::endl;
        return 1;
    }
    return 0;
}
